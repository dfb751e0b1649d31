"""The store: migrations from an empty database, round trips, one paper once, the outbox key."""

from __future__ import annotations

from dataclasses import replace

from datetime import datetime, timedelta, timezone

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from bot.models import Hit, Match, Paper, SubscriberInput
from bot.store import matches, open_database, outbox, papers, sources, subscribers
from bot.store.schema import Base

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)


def test_migrations_from_empty_database_match_the_models(db):
    tables = set(inspect(db.engine).get_table_names())
    assert {"papers", "sources", "subscribers", "interests", "matches", "outbox", "alembic_version"} <= tables
    with db.engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
    db.upgrade()  # idempotent


def test_sqlite_runs_with_wal_and_foreign_keys(tmp_path):
    db = open_database(f"sqlite:///{tmp_path / 'p.db'}")
    with db.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_paper_round_trip_and_one_paper_once(db):
    paper = Paper(id="arxiv:2401.12345", title="Reward models", abstract="We study reward models.",
                  authors=("Ada Lovelace", "Alan Turing"), categories=("cs.LG",), version=1,
                  published=NOW - timedelta(days=1), links={"abs": "https://arxiv.org/abs/2401.12345"})
    with db.session() as s:
        source = sources.add_source(s, "a", "https://example.org/a", "rss", NOW)
        other = sources.add_source(s, "b", "https://example.org/b", "hf", NOW)
        assert papers.upsert_papers(s, [paper], source.id, NOW).new == 1
    with db.session() as s:
        (stored, names), = papers.list_papers(s)
        assert stored == paper and stored.links == paper.links and names == ["a"]
        # The same paper from another source, with upvotes: one row, upvotes merged in.
        counts = papers.upsert_papers(s, [Paper(id=paper.id, title=paper.title, upvotes=42)], other.id, NOW)
        assert (counts.new, counts.updated) == (0, 1)
        # A replacement (v2) updates the version but is not "unmatched" again: no re-alert.
        papers.mark_matched(s, [paper.id], NOW)
        papers.upsert_papers(s, [Paper(id=paper.id, title=paper.title, version=2, updated=NOW)], source.id, NOW)
    with db.session() as s:
        (stored, names), = papers.list_papers(s)
        assert (stored.version, stored.upvotes, names) == (2, 42, ["a", "b"])
        assert stored.authors == ("Ada Lovelace", "Alan Turing")
        assert papers.unmatched_papers(s) == []


def test_subscriber_save_is_idempotent_and_never_resubscribes(db):
    data = SubscriberInput(email="Ada@Example.org", interests=("reward model", "RLHF"), hour=9, tz="Europe/London")
    with db.session() as s:
        person, outcome = subscribers.save_subscriber(s, data, "active", NOW)
        assert (outcome, person.email, person.interests) == ("created", "ada@example.org", ("reward model", "RLHF"))
        assert subscribers.save_subscriber(s, data, "active", NOW)[1] == "unchanged"
        subscribers.set_status(s, person.id, "unsubscribed", NOW)
        again, outcome = subscribers.save_subscriber(s, data, "active", NOW)
        assert (outcome, again.status) == ("unchanged", "unsubscribed")


def test_outbox_key_plans_once_and_claims_with_lease(db):
    with db.session() as s:
        person, _ = subscribers.save_subscriber(s, SubscriberInput("a@example.org", ("x",)), "active", NOW)
        first = outbox.plan(s, person.id, "email", "digest", "2026-11-28", NOW)
        assert first is not None
        assert outbox.plan(s, person.id, "email", "digest", "2026-11-28", NOW) is None
    with db.session() as s:
        claimed = outbox.claim(s, NOW, owner_id=1, lease_seconds=60)
        assert [i.id for i in claimed] == [first] and claimed[0].attempts == 1
        assert outbox.claim(s, NOW, owner_id=2) == []  # leased
    with db.session() as s:  # the sender died: after the lease, the row is taken over
        assert [i.id for i in outbox.claim(s, NOW + timedelta(seconds=61), owner_id=2)] == [first]


def test_matches_are_stored_once_and_travel_with_their_digest(db):
    with db.session() as s:
        person, _ = subscribers.save_subscriber(s, SubscriberInput("a@example.org", ("x",)), "active", NOW)
        papers.upsert_papers(s, [Paper(id="arxiv:1", title="X rays")], None, NOW)
        match = Match(person.id, "arxiv:1", 3.0, ("x",), (Hit("x", "title", 0, 1),))
        assert matches.save_matches(s, [match, match], NOW) == 1
        assert matches.save_matches(s, [match], NOW) == 0
        ids = matches.unsent_match_ids(s, person.id)
        outbox_id = outbox.plan(s, person.id, "email", "digest", "p", NOW)
        matches.attach_to_outbox(s, ids, outbox_id)
        assert matches.unsent_match_ids(s, person.id) == []
        assert matches.matches_of_outbox(s, outbox_id) == [match]  # hits found again from the paper
        assert matches.stored_matches_by_outbox(s, [outbox_id]) == {outbox_id: [replace(match, hits=())]}  # compact
