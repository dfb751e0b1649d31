"""What the bot says: every answer to a chat command, as Telegram HTML (user text is escaped where it is used)."""

WELCOME = (
    "<b>Welcome to paperpost.</b>\n"
    "I send you the new research papers that match your interests, minutes after they are announced.\n\n"
    "Tell me an interest with /subscribe, for example:\n"
    "<code>/subscribe \"reward model\" -survey</code>\n\n"
    "/help shows how to write interests; /interests lists yours; /stop ends it all."
)
WELCOME_BACK = "Welcome back: alerts are on for this chat. /interests lists what you follow; /help shows the commands."
LINKED = ("This chat is now linked to your paperpost subscription ({who}). You get your email digest and, here, "
          "an alert for each new paper. /interests lists what you follow.")
BAD_CODE = ("That code is not valid (it works once, for 30 minutes). Open your manage page and take a new one, "
            "then send <code>/start CODE</code> here.")
TAKEN = "This chat already belongs to another subscription; send /stop here first, then link again."
HELP = (
    "<b>Commands</b>\n"
    "/subscribe QUERY: follow an interest\n"
    "/interests: what you follow (with buttons to remove one)\n"
    "/remove N: stop following interest N\n"
    "/mode instant or /mode daily: an alert per paper, or one message a day\n"
    "/pause, /resume: hold alerts, and start again\n"
    "/digest: your matches of the last day, now\n"
    "/manage: a link to your settings page\n"
    "/stop: no more messages (a chat-only subscription is deleted)\n\n"
    "<b>Writing an interest</b>\n"
    "<code>reward model</code>: both words\n"
    "<code>\"reward model\"</code>: the phrase\n"
    "<code>(RLHF OR DPO) safety</code>: either, with safety\n"
    "<code>alignment -survey</code>: without survey\n"
    "<code>align*</code>: words starting with align\n"
    "<code>ti:diffusion au:Hinton cat:cs.CL</code>: title, author, category\n"
    "<code>is:trending</code>: the most upvoted papers of the day\n"
    "<code>like:2401.12345</code>: papers alike to that paper"
)
HINT = "I only understand commands. Try /subscribe QUERY, or /help for the list."
UNKNOWN = "I do not know {command}. /help lists the commands."
NEED_QUERY = "Give the interest after the command, for example <code>/subscribe \"reward model\"</code>."
BAD_QUERY = "That interest does not parse: {problem}.\n<code>{query}</code>\n<code>{marker}</code>"
SUBSCRIBED = "Following: <code>{query}</code>. New matching papers come here."
ALREADY = "You follow that already: <code>{query}</code>."
NO_INTERESTS = "You follow nothing yet. Add an interest with /subscribe QUERY."
INTERESTS = "<b>Your interests</b>\n{lines}\n\nTap a button to remove one."
REMOVED = "Removed: <code>{query}</code>."
BAD_NUMBER = "There is no interest {number}. /interests lists them with their numbers."
NEED_NUMBER = "Give the number of the interest, for example /remove 2 (/interests shows the numbers)."
MODE = {"instant": "Mode: instant. An alert for each new paper, within minutes.",
        "daily": "Mode: daily. One message a day at {hour}:00 ({tz}) with the day's papers."}
NEED_MODE = "Say /mode instant (an alert per paper) or /mode daily (one message a day)."
PAUSED = "Paused: no alerts until you send /resume."
RESUMED = "Resumed: alerts are on again."
NOT_PAUSED = "Alerts are not paused."
NOT_SUBSCRIBED = "This chat has no subscription yet: send /start."
NO_DIGEST = "Nothing matched your interests in the last day."
DIGEST_HEADING = "Your matches of the last day"
MANAGE = 'Your settings page (keep it private): <a href="{url}">manage your subscription</a>.'
STOPPED = {"deleted": "Stopped. Your interests and everything of this chat are deleted. /start begins again.",
           "unlinked": "Stopped. This chat is unlinked; your email subscription stays as it was.",
           "unknown": "Stopped. There was nothing to stop: this chat has no subscription."}
STALE_BUTTON = "That list is out of date: send /interests again."
VOTED = {1: "👍 Noted: more papers like this one.", -1: "👎 Noted: fewer papers like this one."}
VOTE_UNKNOWN = "That paper is not in our list any more: there is nothing to vote on."
VOTE_NO_SUBSCRIPTION = "This chat has no subscription: send /start first."
