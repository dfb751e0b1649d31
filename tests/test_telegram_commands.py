"""The chat commands through the real python-telegram-bot client and the fake Bot API server: long polling takes
each update once, the commands answer, and the alerts follow (the issue's scenarios)."""

from __future__ import annotations


import pytest
from fakebotapi import FakeBotAPI
from telegram_html import check_message
from telegramworld import now, server, telegram_app  # noqa: F401 - server: a fixture

from bot.config import SEEDS_DIR
from bot.jobs.cycle import run_cycle
from bot.jobs.telegram_polling import UpdatePolling
from bot.models import SubscriberInput
from bot.store import outbox, sources, subscribers
from subscribers import service
from subscribers.telegram.replies import UpdateHandler

CHAT = 5001


@pytest.fixture
def tg(env, server):
    app = telegram_app(env, server, now, PAPERPOST_TELEGRAM_TIMEOUT="3")
    with app.db.session() as session:
        sources.ensure_source(session, "seeds", (SEEDS_DIR / "papers.json").as_uri(), "hf", app.clock())
    yield app
    app.close()


@pytest.fixture
def polling(tg):
    return UpdatePolling(tg.db, tg.telegram, UpdateHandler(tg), poll_seconds=0)


def say(server: FakeBotAPI, polling: UpdatePolling, text: str, chat: int = CHAT) -> list[str]:
    """The user writes `text`; the bot polls once; what the bot answered that chat (valid Telegram HTML)."""
    before = len(server.sent(chat))
    server.user_writes(chat, text)
    polling.poll_once()
    answers = [c.params["text"] for c in server.sent(chat)[before:]]
    for answer in answers:
        check_message(answer)
    return answers


def person(app, chat: int = CHAT):  # type: ignore[no-untyped-def]
    with app.db.session() as session:
        return subscribers.find_by_identifier(session, f"tg:{chat}")


def test_a_chat_subscribes_and_gets_an_alert_for_a_matching_paper_after_a_poll(tg, server, polling):
    assert "Welcome to paperpost" in say(server, polling, "/start")[0]
    assert "Following" in say(server, polling, '/subscribe "reward model"')[0]
    before = len(server.sent(CHAT))
    report = run_cycle(tg, force_poll=True)
    assert report.alerts.alerts + report.alerts.grouped >= 1
    alerts = [check_message(c.params["text"]).text for c in server.sent(CHAT)[before:]]
    assert alerts and all("reward model" in a.lower() for a in alerts)
    assert person(tg).email is None and person(tg).interests == ('"reward model"',)


def test_start_code_links_an_email_subscriber_who_then_gets_both(tg, server, polling):
    with tg.db.session() as session:
        ada, _ = subscribers.save_subscriber(session, SubscriberInput("ada@example.org", ('"reward model"',)),
                                             "active", now())
    code = service.new_telegram_code(tg.db, ada.id, now())
    assert "now linked" in say(server, polling, f"/start {code}")[0]
    assert person(tg).id == ada.id
    assert "not valid" in say(server, polling, f"/start {code}", chat=CHAT + 1)[0]  # a code works once
    report = run_cycle(tg, force_poll=True, ignore_hour=True)
    with tg.db.session() as session:
        sent = {(i.channel, i.kind) for i in outbox.list_outbox(session) if i.state == "sent"}
    assert ("email", "digest") in sent and ("telegram", "alert") in sent, report
    assert list(tg.config.outbox_dir.glob("*-digest-ada@example.org.eml"))


def test_interests_lists_them_with_remove_buttons_checked_against_the_chat_that_pressed(tg, server, polling):
    say(server, polling, "/subscribe alignment -survey")
    say(server, polling, "/subscribe ti:diffusion")
    say(server, polling, "/subscribe alignment", chat=CHAT + 1)
    say(server, polling, "/interests")
    say(server, polling, "/interests", chat=CHAT + 1)
    listing = server.sent(CHAT)[-1]
    assert "1. alignment -survey" in check_message(listing.params["text"]).text
    buttons = [row[0] for row in listing.params["reply_markup"]["inline_keyboard"]]
    assert [b["text"] for b in buttons] == ["Remove 1", "Remove 2"]
    assert all(len(b["callback_data"].encode()) <= 64 for b in buttons)
    # Another chat presses a button with this chat's data (under its own message): nothing changes.
    other = server.sent(CHAT + 1)[-1]
    server.user_presses(CHAT + 1, other.params["_message_id"], buttons[0]["callback_data"])
    polling.poll_once()
    assert person(tg, CHAT + 1).interests == ("alignment",) and len(person(tg).interests) == 2
    server.user_presses(CHAT, listing.params["_message_id"], buttons[0]["callback_data"])
    polling.poll_once()
    assert person(tg).interests == ("ti:diffusion",)
    edited = server.calls_to("editMessageText")[-1].params
    assert "1. ti:diffusion" in check_message(edited["text"]).text
    assert [c.params.get("text") for c in server.calls_to("answerCallbackQuery")][-1].startswith("Removed")
    # The same (now stale) button again: told so, nothing removed.
    server.user_presses(CHAT, listing.params["_message_id"], buttons[0]["callback_data"])
    polling.poll_once()
    assert person(tg).interests == ("ti:diffusion",)
    assert "Removed" in say(server, polling, "/remove 1")[0] and person(tg).interests == ()


def test_stop_and_then_nothing(tg, server, polling):
    say(server, polling, '/subscribe "reward model"')
    assert "deleted" in say(server, polling, "/stop")[0]
    assert person(tg) is None
    before = len(server.sent(CHAT))
    run_cycle(tg, force_poll=True)
    assert len(server.sent(CHAT)) == before


def test_bad_queries_say_where_and_text_or_unknown_commands_get_a_hint(tg, server, polling):
    answer = check_message(say(server, polling, '/subscribe (reward model')[0]).text
    assert "column" in answer and "^" in answer
    assert "only understand commands" in say(server, polling, "hello <b>there</b>")[0]
    assert "do not know /frobnicate" in say(server, polling, "/frobnicate now")[0]
    assert "/subscribe QUERY" in say(server, polling, "/help")[0]


def test_mode_pause_resume_manage_and_a_403_chat_coming_back_with_start(tg, server, polling):
    say(server, polling, '/subscribe "reward model"')
    assert "daily" in say(server, polling, "/mode daily")[0] and person(tg).telegram_mode == "daily"
    assert "Say /mode instant" in say(server, polling, "/mode sometimes")[0]
    assert "Paused" in say(server, polling, "/pause")[0] and person(tg).status == "paused"
    assert "Resumed" in say(server, polling, "/resume")[0] and person(tg).status == "active"
    link = check_message(say(server, polling, "/manage")[0]).links[0]
    assert link.startswith("https://papers.example.org/manage/")
    with tg.db.session() as session:
        subscribers.set_channel_state(session, person(tg).id, "telegram", False, "telegram: Forbidden: blocked")
    assert "Welcome back" in say(server, polling, "/start")[0]
    assert person(tg).telegram_state == "on"


def test_digest_sends_the_matches_of_the_last_day_now(tg, server, polling):
    assert "nothing" in say(server, polling, "/digest")[0].lower()
    run_cycle(tg, force_poll=True)  # the seed papers arrive
    say(server, polling, '/subscribe "reward model"')
    answers = say(server, polling, "/digest")
    assert "Your matches of the last day" in answers[0]


def test_a_standby_that_takes_over_neither_loses_nor_replays_updates(tg, server, polling):
    say(server, polling, "/subscribe alignment")
    server.user_writes(CHAT, "/subscribe diffusion")
    standby = UpdatePolling(tg.db, tg.telegram, UpdateHandler(tg), poll_seconds=0)
    assert standby.poll_once() == 1  # only the update the old planner never took
    assert standby.poll_once() == 0
    assert person(tg).interests == ("alignment", "diffusion")


def test_a_chat_blocked_by_a_403_comes_back_with_start_and_gets_alerts_again(tg, server, polling):
    from telegramworld import add_matched_papers

    from bot.jobs.alerts import plan_alerts
    from bot.jobs.cycle import send_step

    say(server, polling, '/subscribe "reward model"')
    server.fail(CHAT, 403)
    add_matched_papers(tg, [person(tg)], 1)
    plan_alerts(tg.db, tg.clock())
    send_step(tg)
    assert person(tg).telegram_state == "off"
    assert "Welcome back" in say(server, polling, "/start")[0]  # the 403 rule was used up: the user unblocked
    add_matched_papers(tg, [person(tg)], 1, tag="b")
    assert plan_alerts(tg.db, tg.clock()).alerts == 1
    before = len(server.sent(CHAT))
    send_step(tg)
    assert len(server.sent(CHAT)) == before + 1


def test_subscribing_to_a_like_of_a_paper_we_do_not_have_names_its_column(tg, server, polling):
    say(server, polling, "/start")
    [answer] = say(server, polling, "/subscribe rlhf like:2401.99999")
    assert "no stored paper is arxiv:2401.99999" in answer and "(column 6)" in answer
    assert person(tg).interests == ()
