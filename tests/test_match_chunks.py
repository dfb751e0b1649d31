"""Matching commits in chunks: across chunk edges it stores exactly the pairs one pass over everything finds."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import select

from bot.jobs import match as matching
from bot.models import Paper, SubscriberInput
from bot.profile import ProfileIndex
from bot.store import open_database, papers, subscriber_batches, subscribers
from bot.store.schema import MatchRow

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)
TOPICS = ("diffusion", "reward model", "graph neural", "protein", "retrieval")


def make_paper(n: int) -> Paper:
    topic = TOPICS[n % len(TOPICS)]
    return Paper(id=f"arxiv:2611.{n:05d}", title=f"On {topic} number {n}", abstract=f"We study {topic} at scale {n}.",
                 published=NOW)


def stored_pairs(db) -> set[tuple[int, str]]:
    with db.session() as session:
        return set(session.execute(select(MatchRow.subscriber_id, MatchRow.paper_id)).all())


def test_papers_and_profiles_beyond_one_chunk_are_all_matched_once(tmp_path):
    db = open_database(f"sqlite:///{tmp_path / 'chunks.db'}")
    people = [SubscriberInput(email=f"r{n}@example.org", interests=(TOPICS[n % len(TOPICS)],)) for n in range(1100)]
    with db.session() as session:  # 1,100 new profiles: three backfill chunks of at most 500
        subscriber_batches.save_many(session, people, "active", NOW)
        papers.upsert_papers(session, [make_paper(n) for n in range(20)], None, NOW)
    first = matching.match_pending(db, NOW, recent_days=3, trending_top=5)
    assert (first.papers, first.profiles) == (20, 1100)
    with db.session() as session:
        assert subscribers.profiles_needing_backfill(session) == []
        papers.upsert_papers(session, [make_paper(n) for n in range(20, 270)], None, NOW)  # three paper chunks
    second = matching.match_pending(db, NOW, recent_days=3, trending_top=5)
    assert (second.papers, second.profiles) == (250, 0)

    with db.session() as session:
        everyone = subscribers.active_profiles(session)
    expected = {(m.subscriber_id, m.paper_id) for m in ProfileIndex.build(everyone).match(
        [make_paper(n) for n in range(270)], set())}
    assert stored_pairs(db) == expected
    assert first.matches + second.matches == len(expected) == 1100 * 270 // len(TOPICS)
    assert matching.match_pending(db, NOW, recent_days=3, trending_top=5).matches == 0  # nothing twice
    db.dispose()
