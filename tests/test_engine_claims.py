"""Owned claims: fenced result writes, leases renewed while the owner works, rows of dead owners taken back."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

from engine_owner import Owner
from mailworld import Clock, add_matches, add_people, make_app
from smtpserver import SmtpSink

from bot.channels.email.smtp import SmtpMailer
from bot.channels.outcomes import Outcome
from bot.jobs.plan import plan_digests
from bot.jobs.send import DeliveryPolicy, send_pending
from bot.store import outbox
from bot.store.outbox import OutboxItem

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def queued(app, count: int) -> list[int]:
    people = add_people(app, count)
    add_matches(app, people, per_person=1)
    plan_digests(app.db, app.clock(), ignore_hour=True)
    with app.db.session() as session:
        return [i.id for i in outbox.list_outbox(session)]


def states(app) -> dict[str, str]:
    with app.db.session() as session:
        return {i.email: i.state for i in outbox.list_outbox(session)}


def test_a_stale_owner_cannot_record_over_the_new_owner(env, database_url):
    app = make_app(env, Clock(), DATABASE_URL=database_url)
    first, *_ = queued(app, 1)
    with app.db.session() as session:
        assert [i.id for i in outbox.claim(session, NOW, owner_id=1, lease_seconds=60)] == [first]
    with app.db.session() as session:  # owner 1 is dead: owner 2 takes the row at once, lease or not
        assert outbox.claim(session, NOW, owner_id=2) == []
        taken = outbox.claim(session, NOW, owner_id=2, dead_owners={1})
        assert [(i.id, i.taken_over, i.owner_id, i.attempts) for i in taken] == [(first, True, 2, 2)]
    with app.db.session() as session:
        assert outbox.mark_failed(session, first, 2, "550 no such user", None)
    with app.db.session() as session:  # the old owner comes back: none of its writes land
        assert not outbox.mark_sent(session, first, 1, NOW, "late")
        assert not outbox.mark_failed(session, first, 1, "late", NOW)
        assert not outbox.mark_dropped(session, first, 1, "late")
        assert not outbox.release(session, first, 1, "late")
        assert outbox.renew(session, 1, NOW, 60) == 0
    with app.db.session() as session:
        (item,) = outbox.get_items(session, [first])
    assert (item.state, item.last_error, item.owner_id, item.subject) == ("failed", "550 no such user", 2, None)
    app.close()


class TakenOverMidSend:
    """A's mailer: before A's first message goes out, B declares A dead and sends A's whole claim itself."""

    def __init__(self, inner: SmtpMailer, take_over):
        self.inner, self.take_over, self.done = inner, take_over, False
        self.parallelism = 1

    def send(self, envelope) -> Outcome:
        if not self.done:
            self.done = True
            self.take_over()
        return self.inner.send(envelope)

    def close(self) -> None:
        self.inner.close()


def test_a_sender_whose_rows_were_taken_over_records_nothing_and_the_new_owner_result_stands(env, database_url):
    a_sink, b_sink = SmtpSink().start(), SmtpSink().start()
    try:
        app = make_app(env, Clock(), DATABASE_URL=database_url)
        queued(app, 3)
        b_sink.handler.refuse["reader0@example.org"] = "550 5.1.1 no such user"
        a, b = Owner(1), Owner(2, dead={1})
        reports = {}

        def b_takes_over() -> None:
            channel = app.email_channel(SmtpMailer.from_url(b_sink.url))
            reports["b"] = send_pending(app.db, [channel], app.mail_context, b)
            channel.sender.close()

        channel = app.email_channel(TakenOverMidSend(SmtpMailer.from_url(a_sink.url), b_takes_over))
        reports["a"] = send_pending(app.db, [channel], app.mail_context, a)
        channel.sender.close()

        assert (reports["b"].sent, reports["b"].bounced, reports["b"].taken_back) == (2, 1, 3)
        assert (reports["a"].sent, reports["a"].fenced) == (0, 3)  # A's three "sent" were fenced off
        # B's results stand, the permanent failure included (A's server had accepted that one).
        assert states(app) == {"reader0@example.org": "failed", "reader1@example.org": "sent",
                               "reader2@example.org": "sent"}
        with app.db.session() as session:
            assert {i.owner_id for i in outbox.list_outbox(session)} == {2}
        app.close()
    finally:
        a_sink.stop()
        b_sink.stop()


def test_leases_are_renewed_while_a_slow_sender_works(env, database_url):
    """A 1 s lease on a claim that takes 2.5 s to send at 2 messages/s: renewed, so no one else can take it."""
    sink = SmtpSink().start()
    try:
        app = make_app(env, lambda: datetime.now(UTC), DATABASE_URL=database_url, PAPERPOST_SMTP_URL=sink.url,
                       PAPERPOST_SMTP_RATE="2", PAPERPOST_SMTP_CONNECTIONS="1")
        queued(app, 6)
        channel = app.email_channel()
        result = {}
        sender = threading.Thread(target=lambda: result.update(report=send_pending(
            app.db, [channel], app.mail_context, Owner(1), policy=DeliveryPolicy(lease_seconds=1))))
        sender.start()
        stolen: list[OutboxItem] = []
        while sender.is_alive():
            time.sleep(0.3)
            with app.db.session() as session:
                stolen += outbox.claim(session, datetime.now(UTC), owner_id=2)  # a live owner 1: nothing to take
        sender.join()
        channel.sender.close()
        assert stolen == []
        assert result["report"].sent == 6
        assert sorted(r.recipients[0] for r in sink.received) == sorted(f"reader{n}@example.org" for n in range(6))
        app.close()
    finally:
        sink.stop()


def test_rows_held_by_a_live_owner_are_counted_not_taken(env):
    app = make_app(env, Clock())
    ids = queued(app, 3)
    with app.db.session() as session:
        outbox.claim(session, NOW, owner_id=7, limit=2)
    channel = app.email_channel()
    report = send_pending(app.db, [channel], app.mail_context, Owner(1))
    assert (report.sent, report.held_by_live, report.taken_back) == (1, 2, 0)
    report = send_pending(app.db, [channel], app.mail_context, Owner(1, dead={7}))
    assert (report.sent, report.held_by_live, report.taken_back) == (2, 0, 2)
    assert len(ids) == 3 and set(states(app).values()) == {"sent"}
    app.close()
