"""Channels as plug-ins: kinds no composer here can write stay queued; recipient_gone and unavailable do what they say."""

from __future__ import annotations

from dataclasses import dataclass, field

import psycopg
from engine_owner import Owner
from mailworld import Clock, add_matches, add_people, make_app
from smtpserver import SmtpSink

from bot.channels.channel import Channel
from bot.channels.outcomes import Outcome, recipient_gone, sent, unavailable
from bot.jobs.cycle import send_step
from bot.jobs.plan import plan_digests
from bot.jobs.send import send_pending
from bot.models import SubscriberInput
from bot.store import outbox, subscribers


@dataclass
class ChatSender:
    """A test double of a Telegram-like channel's sender: answers every message with `answer`, and counts."""

    answer: Outcome
    calls: list[str] = field(default_factory=list)
    parallelism: int = 1

    def send(self, message: str) -> Outcome:
        self.calls.append(message)
        return self.answer

    def close(self) -> None:
        pass


def chat_channel(sender: ChatSender) -> Channel:
    return Channel("telegram", sender, {"alert": lambda session, item, ctx: f"alert {item.id}"})


def person_with_both(app, n: int = 0):
    with app.db.session() as session:
        return subscribers.save_subscriber(session, SubscriberInput(f"both{n}@example.org", ("reward model",),
                                                                    telegram_chat_id=f"{1000 + n}"), "active",
                                           app.clock())[0]


def row(app, person, channel: str, kind: str, period: str = "p1") -> int:
    with app.db.session() as session:
        return outbox.plan(session, person.id, channel, kind, period, app.clock())


def test_kinds_and_channels_this_process_cannot_compose_stay_queued(env, database_url):
    app = make_app(env, Clock(), DATABASE_URL=database_url)
    people = add_people(app, 2)
    add_matches(app, people)
    plan_digests(app.db, app.clock(), ignore_hour=True)
    both = person_with_both(app)
    alert, chat = row(app, both, "email", "alert"), row(app, both, "telegram", "digest")
    report = send_step(app, Owner(1))  # this process: email with digest and confirm only
    assert (report.sent, report.dropped, report.failed) == (2, 0, 0)
    with app.db.session() as session:
        left = {i.id: (i.state, i.attempts, i.last_error) for i in outbox.get_items(session, [alert, chat])}
        assert outbox.count_claimable(session, app.clock(), kinds=[("telegram", "digest")]) == 1
    assert left == {alert: ("queued", 0, None), chat: ("queued", 0, None)}
    app.close()


def test_recipient_gone_turns_off_that_channel_only(env):
    app = make_app(env, Clock())
    both = person_with_both(app)
    row(app, both, "telegram", "alert")
    report = send_pending(app.db, [chat_channel(ChatSender(recipient_gone("403: bot was blocked by the user")))],
                          app.mail_context, Owner(1))
    assert (report.failed, report.gone) == (1, 1)
    with app.db.session() as session:
        person = subscribers.get_subscriber(session, both.id)
        (item,) = outbox.list_outbox(session)
    assert (person.telegram_state, person.telegram_reason) == ("off", "403: bot was blocked by the user")
    assert (person.email_state, person.status) == ("on", "active")
    assert (item.state, item.last_error) == ("failed", "403: bot was blocked by the user")
    with app.db.session() as session:
        assert outbox.count_claimable(session, app.clock()) == 0  # final: never retried
    app.close()


def test_the_bounce_limit_reached_turns_email_off_and_leaves_telegram_on(env):
    sink = SmtpSink().start()
    try:
        app = make_app(env, Clock(), PAPERPOST_SMTP_URL=sink.url, PAPERPOST_BOUNCE_LIMIT="1")
        both = person_with_both(app)
        add_matches(app, [both])
        sink.handler.refuse["both0@example.org"] = "550 5.1.1 no such user"
        plan_digests(app.db, app.clock(), ignore_hour=True)
        report = send_step(app, Owner(1))
        assert (report.bounced, report.gone) == (1, 1)
        with app.db.session() as session:
            person = subscribers.get_subscriber(session, both.id)
        assert (person.email_state, person.telegram_state) == ("off", "on")
        assert person.email_reason.startswith("bouncing")
        app.close()
    finally:
        sink.stop()


def test_unavailable_hands_the_rows_back_untouched_and_stops_that_channel(env):
    app = make_app(env, Clock())
    people = [person_with_both(app, n) for n in range(3)]
    ids = [row(app, p, "telegram", "alert") for p in people]
    down = ChatSender(unavailable("the Bot API cannot be reached (connection refused)"))
    report = send_pending(app.db, [chat_channel(down)], app.mail_context, Owner(1))
    assert (report.sent, report.failed, report.deferred) == (0, 0, 3)
    assert len(down.calls) == 1  # stopped at the first
    with app.db.session() as session:
        items = outbox.get_items(session, ids)
        assert {(i.state, i.attempts, i.owner_id is None or i.owner_id == 1) for i in items} == {("queued", 0, True)}
        assert items[0].last_error == "the Bot API cannot be reached (connection refused)"
        assert {p.telegram_state for p in subscribers.subscribers_by_id(session, [p.id for p in people]).values()} == {"on"}
    up = ChatSender(sent())
    assert send_pending(app.db, [chat_channel(up)], app.mail_context, Owner(1)).sent == 3
    app.close()


def test_queued_rows_notify_the_senders_on_postgresql_at_commit(env, database_url):
    app = make_app(env, Clock(), DATABASE_URL=database_url)
    both = person_with_both(app)
    if not app.db.is_sqlite:
        listener = psycopg.connect(database_url.replace("postgresql+psycopg", "postgresql"), autocommit=True)
        listener.execute("LISTEN paperpost_outbox")
    row(app, both, "email", "confirm")
    with app.db.session() as session:
        outbox.plan_many(session, [(both.id, "2026-11-28")], "email", "digest", app.clock())
    if not app.db.is_sqlite:
        got = [n.payload for n in listener.notifies(timeout=2, stop_after=2)]
        listener.close()
        assert got == ["email", "email"]
    with app.db.session() as session:
        assert outbox.backlog(session) == {"queued": 2}
    app.close()


def test_a_message_that_cannot_be_composed_fails_for_good_and_does_not_count_against_the_address(env, database_url):
    """The same data gives the same error every time: no retries, no bounce counted, the reason recorded."""
    app = make_app(env, Clock(), DATABASE_URL=database_url)
    sender = ChatSender(sent())
    person = person_with_both(app)

    def broken(session, item, ctx):  # type: ignore[no-untyped-def]
        "ünïcode".encode("ascii")  # what an address that can never be mailed did to the old composer

    channel = Channel("telegram", sender, {"alert": broken})
    alert = row(app, person, "telegram", "alert")
    first = send_pending(app.db, [channel], app.mail_context, Owner(1))
    app.clock.advance(hours=7)  # past every retry time the backoff could have set
    again = send_pending(app.db, [channel], app.mail_context, Owner(1))
    assert (first.failed, first.bounced, again.failed, again.sent) == (1, 0, 0, 0) and sender.calls == []
    with app.db.session() as session:
        [item] = outbox.get_items(session, [alert])
        state = subscribers.get_subscriber(session, person.id)
    assert (item.state, item.attempts) == ("failed", 1)
    assert item.last_error.startswith("could not compose: UnicodeEncodeError")
    assert state.telegram_on and state.email_on
    app.close()
