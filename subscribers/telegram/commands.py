"""The chat commands, as plain functions: one incoming Update in, the actions to answer it with out.

Who is writing comes from Telegram (the chat of the message, or of the message whose
button was pressed), never from the text or the callback data: a chat can only ever
read or change its own subscription. A chat that has no subscriber yet gets one (chat
only) when it sends /start or /subscribe.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from html import escape

from telegram import Update

from bot.app import App
from bot.channels.telegram.alert_text import alert_parts
from bot.channels.telegram.vote_keys import find_hashed, is_hashed, read_vote_data
from bot.errors import QueryError
from bot.jobs.alerts import CHANNEL
from bot.jobs.match import current_trending
from bot.logs import log_event
from bot.models import Subscriber, SubscriberInput
from bot.profile import parse_interest, search
from bot.digest.ranking import rank
from bot.store import matches, papers, subscribers, telegram_state, votes
from subscribers import service
from subscribers.telegram import texts
from subscribers.validation import liked_problems
from subscribers.telegram.actions import Action, Answer, ButtonRow, Edit, Reply

CALLBACK_MAX = 64  # bytes: Telegram's limit on callback data
REMOVE = "rm"  # callback data `rm:N:HASH`: remove interest N, if it is still the one shown (HASH of its text)


def interest_tag(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def remove_data(number: int, text: str) -> str:
    data = f"{REMOVE}:{number}:{interest_tag(text)}"
    assert len(data.encode()) <= CALLBACK_MAX
    return data


class ChatCommands:
    """Answers one chat's commands and button presses, reading and writing the store through the service."""

    def __init__(self, app: App):
        self.app = app
        self.db = app.db
        self._commands: dict[str, Callable[[str, str], list[Action]]] = {
            "start": self.start, "help": self.help, "subscribe": self.subscribe, "interests": self.interests,
            "remove": self.remove, "mode": self.mode, "pause": self.pause, "resume": self.resume,
            "digest": self.digest, "manage": self.manage, "stop": self.stop}

    def now(self) -> datetime:
        return self.app.clock()

    def handle(self, update: Update) -> list[Action]:
        """The answer to one update (a message or a button press); [] for updates the bot ignores."""
        if update.callback_query is not None:
            return self.pressed(update)
        message = update.message
        if message is None or message.chat is None:
            return []
        chat = str(message.chat.id)
        text = (message.text or "").strip()
        if not text.startswith("/"):
            return [Reply(chat, texts.HINT)]
        word, _, rest = text.partition(" ")
        name = word[1:].split("@", 1)[0].lower()  # /start@paperpost_bot in groups
        command = self._commands.get(name)
        if command is None:
            return [Reply(chat, texts.UNKNOWN.format(command=escape(word[:40])))]
        return command(chat, rest.strip())

    # Who is writing ----------------------------------------------------------------------------------

    def person(self, chat: str) -> Subscriber | None:
        with self.db.session() as session:
            return subscribers.find_by_identifier(session, f"tg:{chat}")

    def _joined(self, chat: str) -> tuple[Subscriber, bool]:
        """The chat's subscriber, created (chat only, active) if there is none, and marked as started."""
        with self.db.session() as session:
            found = subscribers.find_by_identifier(session, f"tg:{chat}")
            fresh = found is None
            if found is None:
                found, _ = subscribers.save_subscriber(session, SubscriberInput(None, (), telegram_chat_id=chat),
                                                       "active", self.now())
            person = subscribers.telegram_started(session, found.id)
        assert person is not None
        return person, fresh

    # Commands ----------------------------------------------------------------------------------------

    def start(self, chat: str, code: str) -> list[Action]:
        if code:
            return self._link(chat, code)
        before = self.person(chat)
        person, fresh = self._joined(chat)
        if before is None or not before.telegram_started:
            log_event("telegram.started", subscriber=person.id, new=fresh)
            return [Reply(chat, texts.WELCOME)]
        if before.telegram_state != "on":  # back after a 403: the senders' hold on the chat ends too
            with self.db.session() as session:
                telegram_state.free_chat(session, chat, self.now())
            log_event("telegram.back_on", subscriber=person.id)
            return [Reply(chat, texts.WELCOME_BACK)]
        return [Reply(chat, texts.WELCOME)]

    def _link(self, chat: str, code: str) -> list[Action]:
        try:
            person = service.link_telegram(self.db, code, chat, self.now())
        except subscribers.IdentityTaken:
            return [Reply(chat, texts.TAKEN)]
        if person is None:
            return [Reply(chat, texts.BAD_CODE)]
        with self.db.session() as session:
            subscribers.telegram_started(session, person.id)
            # What the digest already carried is not alerted again: only matches found from now on.
            known = matches.unsent_match_ids_by_subscriber(session, [person.id], CHANNEL).get(person.id, [])
            subscribers.alert_from_match(session, person.id, max(known, default=0) + 1)
        log_event("telegram.linked", subscriber=person.id, chat=chat)
        return [Reply(chat, texts.LINKED.format(who=escape(person.email or person.label)))]

    def help(self, chat: str, _: str) -> list[Action]:
        return [Reply(chat, texts.HELP)]

    def subscribe(self, chat: str, query: str) -> list[Action]:
        if not query:
            return [Reply(chat, texts.NEED_QUERY)]
        try:
            parse_interest(query)
            problems = liked_problems([query], service.stored_papers(self.db))
            if problems:
                raise problems[0][1]
        except QueryError as exc:
            column = exc.position or 1
            return [Reply(chat, texts.BAD_QUERY.format(problem=escape(exc.message) + f" (column {column})",
                                                       query=escape(query), marker=" " * (column - 1) + "^"))]
        person, _ = self._joined(chat)
        if query in person.interests:
            return [Reply(chat, texts.ALREADY.format(query=escape(query)))]
        self._save_interests(person, person.interests + (query,))
        return [Reply(chat, texts.SUBSCRIBED.format(query=escape(query)))]

    def _save_interests(self, person: Subscriber, interests: tuple[str, ...]) -> None:
        data = SubscriberInput(person.email, interests, person.frequency, person.hour, person.tz, person.weekday,
                               person.telegram_chat_id)
        service.update_profile(self.db, person.id, data, self.now())

    def _listing(self, person: Subscriber) -> tuple[str, tuple[ButtonRow, ...]]:
        lines = "\n".join(f"{n}. <code>{escape(text)}</code>" for n, text in enumerate(person.interests, 1))
        buttons = tuple(((f"Remove {n}", remove_data(n, text)),) for n, text in enumerate(person.interests, 1))
        return texts.INTERESTS.format(lines=lines), buttons[:50]

    def interests(self, chat: str, _: str) -> list[Action]:
        person = self.person(chat)
        if person is None or not person.interests:
            return [Reply(chat, texts.NO_INTERESTS)]
        html, buttons = self._listing(person)
        return [Reply(chat, html, buttons)]

    def remove(self, chat: str, number: str) -> list[Action]:
        person = self.person(chat)
        if person is None:
            return [Reply(chat, texts.NOT_SUBSCRIBED)]
        if not number.isdigit():
            return [Reply(chat, texts.NEED_NUMBER)]
        n = int(number)
        if not 1 <= n <= len(person.interests):
            return [Reply(chat, texts.BAD_NUMBER.format(number=escape(number[:10])))]
        removed = person.interests[n - 1]
        self._save_interests(person, person.interests[:n - 1] + person.interests[n:])
        return [Reply(chat, texts.REMOVED.format(query=escape(removed)))]

    def mode(self, chat: str, mode: str) -> list[Action]:
        person = self.person(chat)
        if person is None:
            return [Reply(chat, texts.NOT_SUBSCRIBED)]
        mode = mode.lower()
        if mode not in texts.MODE:
            return [Reply(chat, texts.NEED_MODE)]
        with self.db.session() as session:
            subscribers.set_telegram_mode(session, person.id, mode)
        return [Reply(chat, texts.MODE[mode].format(hour=person.hour, tz=escape(person.tz)))]

    def pause(self, chat: str, _: str) -> list[Action]:
        person = self.person(chat)
        if person is None:
            return [Reply(chat, texts.NOT_SUBSCRIBED)]
        service.pause(self.db, person.id, self.now())
        return [Reply(chat, texts.PAUSED)]

    def resume(self, chat: str, _: str) -> list[Action]:
        person = self.person(chat)
        if person is None:
            return [Reply(chat, texts.NOT_SUBSCRIBED)]
        if person.status != "paused":
            return [Reply(chat, texts.NOT_PAUSED)]
        service.resume(self.db, person.id, self.now())
        return [Reply(chat, texts.RESUMED)]

    def digest(self, chat: str, _: str) -> list[Action]:
        """The papers of the last day that match the chat's interests, now (nothing is recorded as sent)."""
        person = self.person(chat)
        if person is None or not person.interests:
            return [Reply(chat, texts.NO_INTERESTS)]
        now = self.now()
        with self.db.session() as session:
            recent = papers.recent_papers(session, now - timedelta(days=1))
            trending = current_trending(session, now, self.app.config["PAPERPOST_TRENDING_TOP"])
        found = {}
        for interest in person.interests:
            for match in search(interest, recent, trending):
                found.setdefault(match.paper_id, match)
        if not found:
            return [Reply(chat, texts.NO_DIGEST)]
        by_id = {p.id: p for p in recent}
        ranked = rank(found.values(), by_id)[:self.app.config["PAPERPOST_DIGEST_MAX"]]
        parts = alert_parts([(by_id[m.paper_id], m) for m in ranked], heading=texts.DIGEST_HEADING)
        return [Reply(chat, part.html, tuple(tuple((b.text, b.url or b.callback) for b in row) for row in part.buttons))
                for part in parts]

    def manage(self, chat: str, _: str) -> list[Action]:
        person = self.person(chat)
        if person is None:
            return [Reply(chat, texts.NOT_SUBSCRIBED)]
        url = self.app.mail_context.link("manage", person)
        return [Reply(chat, texts.MANAGE.format(url=escape(url, quote=True)))]

    def stop(self, chat: str, _: str) -> list[Action]:
        outcome = service.stop_telegram(self.db, chat)
        if outcome != "unknown":
            log_event("telegram.stopped", level=logging.INFO, chat=chat, outcome=outcome)
        return [Reply(chat, texts.STOPPED[outcome])]

    # Buttons -----------------------------------------------------------------------------------------

    def pressed(self, update: Update) -> list[Action]:
        """A remove or a vote button: checked against the chat that pressed it (and a remove against its list)."""
        query = update.callback_query
        assert query is not None
        message = query.message
        if message is None or message.chat is None:  # too old for Telegram to say where it was
            return [Answer(query.id, texts.STALE_BUTTON)]
        chat = str(message.chat.id)
        vote = read_vote_data(query.data or "")
        if vote is not None:
            return [Answer(query.id, self._vote(chat, *vote))]
        kind, _, rest = (query.data or "").partition(":")
        number, _, tag = rest.partition(":")
        person = self.person(chat)
        if kind != REMOVE or not number.isdigit() or person is None:
            return [Answer(query.id, texts.STALE_BUTTON)]
        n = int(number)
        if not 1 <= n <= len(person.interests) or interest_tag(person.interests[n - 1]) != tag:
            return [Answer(query.id, texts.STALE_BUTTON)]  # another chat's data, or a list changed since
        removed = person.interests[n - 1]
        self._save_interests(person, person.interests[:n - 1] + person.interests[n:])
        after = self.person(chat)
        assert after is not None
        if after.interests:
            html, buttons = self._listing(after)
        else:
            html, buttons = texts.NO_INTERESTS, ()
        return [Answer(query.id, f"Removed: {removed[:150]}"), Edit(chat, message.message_id, html, buttons)]

    def _vote(self, chat: str, value: int, key: str) -> str:
        """Record the vote of the chat's subscriber (whoever made the button): the text the press is answered with."""
        person = self.person(chat)
        if person is None:
            return texts.VOTE_NO_SUBSCRIPTION
        with self.db.session() as session:
            paper_id = find_hashed(key, votes.matched_paper_ids(session, person.id)) if is_hashed(key) else key
            if paper_id is None:  # a long id none of this subscriber's matches has: not their button
                return texts.VOTE_UNKNOWN
            try:
                votes.set_vote(session, person.id, paper_id, value, self.now())
            except votes.UnknownPaper:
                return texts.VOTE_UNKNOWN
        log_event("vote.recorded", subscriber=person.id, choice="more" if value == votes.MORE else "less",
                  via="telegram")
        return texts.VOTED[value]
