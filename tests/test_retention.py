"""Retention with a clock: old delivered messages, their matches and unneeded papers go; what waits stays."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from bot.app import App
from bot.config import load_config
from bot.jobs.cycle import match_step, plan_step, send_step
from bot.jobs.match import match_pending
from bot.jobs.prune import prune_step
from bot.models import Paper, SubscriberInput
from bot.store import open_database, papers, subscribers
from bot.store.retention import PruneReport, prune, prune_in_chunks
from bot.store.schema import (
    InterestRow, MatchDeliveryRow, MatchRow, OutboxRow, PaperRow, PaperSourceRow, PaperTombstoneRow, SourceRow,
    SubscriberRow,
)

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)
DAYS = 90
OLD = NOW - timedelta(days=150)


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def paper(paper_id: str, title: str = "Reward models for honest assistants", version: int = 1) -> Paper:
    return Paper(id=paper_id, title=title, abstract="We study reward models.", authors=("Ada Lovelace",),
                 categories=("cs.CL",), published=OLD, version=version,
                 links={"abs": f"https://arxiv.org/abs/{paper_id.split(':')[-1]}"})


class World:
    """Seeds one install with every case the rules name; `ids` and `people` map labels to row ids."""

    def __init__(self, session) -> None:  # type: ignore[no-untyped-def]
        self.session = session
        self.ids: dict[str, int] = {}  # messages and matches
        self.people: dict[str, int] = {}
        source = SourceRow(name="arxiv-cs-cl", url="https://rss.arxiv.org/rss/cs.CL", kind="arxiv", active=True,
                           failures=0, created_at=ago(400))
        session.add(source)
        session.flush()
        self.source = source.id

    def person(self, label: str, status: str = "active", **channels: str | None) -> int:
        row = SubscriberRow(email=f"{label}@example.org", status=status, created_at=ago(300), frequency="daily",
                            weekday=0, hour=7, tz="UTC", send_empty=False, bounces=0, matched_at=ago(300),
                            **channels)
        row.interests = [InterestRow(position=0, text="reward model")]
        self.session.add(row)
        self.session.flush()
        self.people[label] = row.id
        return row.id

    def paper(self, paper_id: str, first_seen: datetime) -> str:
        papers.upsert_papers(self.session, [paper(paper_id)], self.source, first_seen)
        papers.mark_matched(self.session, [paper_id], first_seen)
        return paper_id

    def message(self, label: str, who: str, state: str, created: datetime, *, sent: datetime | None = None,
                channel: str = "email", retry_at: datetime | None = None) -> int:
        row = OutboxRow(subscriber_id=self.people[who], channel=channel, kind="digest", period=label, state=state,
                        attempts=1, created_at=created, sent_at=sent, next_attempt_at=retry_at,
                        lease_until=created + timedelta(minutes=5) if state == "sending" else None)
        self.session.add(row)
        self.session.flush()
        self.ids[label] = row.id
        return row.id

    def match(self, label: str, who: str, paper_id: str, created: datetime, *carried_by: str) -> int:
        row = MatchRow(subscriber_id=self.people[who], paper_id=paper_id, score=1.0, interests=["reward model"],
                       hits=[["reward", "title", 0, 6]], created_at=created)
        self.session.add(row)
        self.session.flush()
        for message in carried_by:
            channel = self.session.get(OutboxRow, self.ids[message]).channel
            self.session.add(MatchDeliveryRow(match_id=row.id, channel=channel, outbox_id=self.ids[message]))
        self.session.flush()
        self.ids[label] = row.id
        return row.id


def seed(session) -> World:  # type: ignore[no-untyped-def]
    w = World(session)
    w.person("ada", telegram_chat_id="100")
    w.person("bob", status="unsubscribed")
    w.person("cy", email_state="off", email_reason="bouncing")  # active, but no channel on
    w.person("dee")
    # Delivered long ago: the message, its match and its paper go.
    w.message("sent-old", "ada", "sent", ago(151), sent=OLD)
    w.match("m-sent-old", "ada", w.paper("arxiv:2601.00001", ago(152)), ago(152), "sent-old")
    # Dropped long ago (no sent_at: created_at counts): the same.
    w.message("dropped-old", "ada", "dropped", ago(120))
    w.match("m-dropped-old", "ada", w.paper("arxiv:2601.00002", ago(121)), ago(121), "dropped-old")
    # Old but still waiting: the rows, their matches and papers stay, whatever their age.
    w.message("queued-old", "ada", "queued", ago(200))
    w.match("m-queued-old", "ada", w.paper("arxiv:2601.00003", ago(201)), ago(201), "queued-old")
    w.message("sending-old", "dee", "sending", ago(200))
    w.match("m-sending-old", "dee", w.paper("arxiv:2601.00004", ago(201)), ago(201), "sending-old")
    w.message("retry-old", "dee", "failed", ago(200), retry_at=NOW + timedelta(minutes=5))
    w.match("m-retry-old", "dee", w.paper("arxiv:2601.00005", ago(201)), ago(201), "retry-old")
    # One match in an old email digest and in a Telegram alert still queued: all of it stays, and so does
    # the other match the old digest carries (the kept row keeps its links).
    w.message("sent-old-2", "ada", "sent", ago(140), sent=ago(140))
    w.message("tg-queued", "ada", "queued", ago(140), channel="telegram")
    w.match("m-two-channels", "ada", w.paper("arxiv:2601.00006", ago(141)), ago(141), "sent-old-2", "tg-queued")
    w.match("m-beside", "ada", w.paper("arxiv:2601.00007", ago(141)), ago(141), "sent-old-2")
    # Sent recently: stays.
    w.message("sent-recent", "ada", "sent", ago(5), sent=ago(5))
    w.match("m-sent-recent", "ada", w.paper("arxiv:2601.00008", ago(100)), ago(6), "sent-recent")
    # Never carried: an active reader's stays (their next digest); those of readers who cannot get it go.
    w.match("m-waiting", "ada", w.paper("arxiv:2601.00009", ago(130)), ago(130))
    w.match("m-unsubscribed", "bob", w.paper("arxiv:2601.00010", ago(130)), ago(130))
    w.match("m-all-off", "cy", w.paper("arxiv:2601.00011", ago(130)), ago(130))
    w.match("m-unsubscribed-recent", "bob", w.paper("arxiv:2601.00012", ago(10)), ago(10))
    # Papers with no match: old ones go, recent ones stay.
    w.paper("arxiv:2601.00013", ago(95))
    w.paper("arxiv:2601.00014", ago(80))
    return w


GONE_MESSAGES = {"sent-old", "dropped-old"}
GONE_MATCHES = {"m-sent-old", "m-dropped-old", "m-unsubscribed", "m-all-off"}
GONE_PAPERS = {"arxiv:2601.00001", "arxiv:2601.00002", "arxiv:2601.00010", "arxiv:2601.00011", "arxiv:2601.00013"}
ALL_PAPERS = {f"arxiv:2601.{n:05d}" for n in range(1, 15)}


def run_prune_in_one_transaction(db) -> PruneReport:  # type: ignore[no-untyped-def]
    with db.session() as session:
        return prune(session, NOW, DAYS)


def run_prune_one_row_at_a_time(db) -> PruneReport:  # type: ignore[no-untyped-def]
    return prune_in_chunks(db, NOW, DAYS, subscriber_batch_size=1, paper_batch_size=1)


@pytest.mark.parametrize("run", [run_prune_in_one_transaction, run_prune_one_row_at_a_time])
def test_prune_takes_what_was_delivered_and_keeps_what_waits(database_url, run):
    db = open_database(database_url)
    try:
        with db.session() as session:
            world = seed(session)
            ids = world.ids
        report = run(db)
        assert report == PruneReport(outbox=len(GONE_MESSAGES), matches=len(GONE_MATCHES), papers=len(GONE_PAPERS))
        with db.session() as session:
            messages = set(session.scalars(select(OutboxRow.id)))
            matched = set(session.scalars(select(MatchRow.id)))
            stored = set(session.scalars(select(PaperRow.id)))
            tombstones = dict(session.execute(select(PaperTombstoneRow.id, PaperTombstoneRow.pruned_at)).all())
            linked_papers = set(session.scalars(select(PaperSourceRow.paper_id)))
            links = set(session.execute(select(MatchDeliveryRow.match_id, MatchDeliveryRow.outbox_id)).all())
        message_labels = {label for label, i in ids.items() if not label.startswith("m-") and i in messages}
        assert {"queued-old", "sending-old", "retry-old", "sent-old-2", "tg-queued", "sent-recent"} == message_labels
        assert {label for label, i in ids.items() if label.startswith("m-") and i in matched} == {
            "m-queued-old", "m-sending-old", "m-retry-old", "m-two-channels", "m-beside", "m-sent-recent",
            "m-waiting", "m-unsubscribed-recent"}
        assert stored == ALL_PAPERS - GONE_PAPERS and linked_papers == stored
        assert tombstones == {paper_id: NOW for paper_id in GONE_PAPERS}
        assert (ids["m-two-channels"], ids["sent-old-2"]) in links and (ids["m-beside"], ids["sent-old-2"]) in links
        # Run again: nothing more to do.
        assert run(db) == PruneReport()
    finally:
        db.dispose()


def test_a_pruned_papers_v2_is_known_never_matched_and_alerts_no_one(database_url):
    db = open_database(database_url)
    try:
        with db.session() as session:
            seed(session)
        with db.session() as session:
            prune(session, NOW, DAYS)
        later = NOW + timedelta(days=60)
        replacement = paper("arxiv:2601.00001", title="Reward models for honest assistants (v2)", version=2)
        brand_new = paper("arxiv:2611.99999")  # the control: the same words in a new paper do alert
        with db.session() as session:
            source = session.scalar(select(SourceRow.id))
            before = session.scalar(select(func.count()).select_from(MatchRow))
            counts = papers.upsert_papers(session, [replacement, brand_new], source, later)
        assert (counts.new, counts.updated, counts.known) == (1, 0, 1)
        report = match_pending(db, later, recent_days=3, trending_top=10)
        with db.session() as session:
            assert session.get(PaperRow, "arxiv:2601.00001") is None
            assert session.scalar(select(func.count()).select_from(PaperSourceRow)
                                  .where(PaperSourceRow.paper_id == "arxiv:2601.00001")) == 0
            matched = list(session.scalars(select(MatchRow.paper_id).where(MatchRow.created_at == later)))
            after = session.scalar(select(func.count()).select_from(MatchRow))
        assert report.papers == 1 and sorted(matched) == ["arxiv:2611.99999"] * 3  # ada, cy and dee; not the v2
        assert after == before + 3
    finally:
        db.dispose()


def test_prune_step_reads_the_setting_and_logs_the_counts(env, monkeypatch, caplog):
    monkeypatch.setenv("PAPERPOST_RETENTION_DAYS", "30")
    app = App(load_config(), clock=lambda: NOW)
    try:
        with app.db.session() as session:
            world = seed(session)
        with caplog.at_level(logging.INFO, logger="paperpost"):
            report = prune_step(app)
        # 30 days: also the paper first seen 80 days ago, and the match the recent digest carried stays.
        assert report.papers == len(GONE_PAPERS) + 1 and report.outbox == 2
        with app.db.session() as session:
            assert session.get(PaperRow, "arxiv:2601.00014") is None
            assert session.get(MatchRow, world.ids["m-sent-recent"]) is not None
        [record] = [r for r in caplog.records if getattr(r, "event", None) == "prune"]
        assert record.fields == {"retention_days": 30, "outbox": 2, "matches": 4, "papers": len(GONE_PAPERS) + 1}
    finally:
        app.close()


def test_through_the_pipeline_a_digest_sent_long_ago_is_pruned_and_its_papers_v2_mails_no_one(env):
    clock = [NOW - timedelta(days=100)]
    app = App(load_config(), clock=lambda: clock[0])
    try:
        with app.db.session() as session:
            papers.upsert_papers(session, [paper("arxiv:2608.00001")], None, clock[0])
            subscribers.save_subscriber(session, SubscriberInput("ada@example.org", ("reward model",), tz="UTC"),
                                        "active", clock[0])
        match_step(app)
        assert plan_step(app, ignore_hour=True).planned == 1 and send_step(app).sent == 1
        mails = sorted(app.config.outbox_dir.rglob("*.eml"))
        assert len(mails) == 1
        with app.db.session() as session:
            assert session.scalar(select(func.count()).select_from(MatchDeliveryRow)) == 1
        clock[0] = NOW  # 100 days on: the digest, its match and its paper are past the 90 days
        assert prune_step(app) == PruneReport(outbox=1, matches=1, papers=1)
        with app.db.session() as session:
            counts = papers.upsert_papers(session, [paper("arxiv:2608.00001", "Reward models, revised", 2)], None, NOW)
        assert (counts.new, counts.known) == (0, 1)
        match_step(app)
        planned = plan_step(app, ignore_hour=True)
        assert (planned.planned, planned.nothing_new) == (0, 1)
        assert send_step(app).sent == 0 and sorted(app.config.outbox_dir.rglob("*.eml")) == mails
    finally:
        app.close()
