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


def test_chunks_stored_by_the_writer_thread_are_the_pairs_of_one_pass(db):
    """The same on PostgreSQL, where a thread stores each chunk while the next one is matched."""
    people = [SubscriberInput(email=f"r{n}@example.org", interests=(TOPICS[n % len(TOPICS)],)) for n in range(300)]
    with db.session() as session:
        subscriber_batches.save_many(session, people, "active", NOW)
        papers.upsert_papers(session, [make_paper(n) for n in range(20)], None, NOW)
    matching.match_pending(db, NOW, recent_days=3, trending_top=5)
    with db.session() as session:
        papers.upsert_papers(session, [make_paper(n) for n in range(20, 370)], None, NOW)  # four paper chunks
    report = matching.match_pending(db, NOW, recent_days=3, trending_top=5)
    assert report.papers == 350 and report.matches == 300 * 350 // len(TOPICS)
    assert len(stored_pairs(db)) == 300 * 370 // len(TOPICS)
    with db.session() as session:
        assert papers.unmatched_papers(session) == []


def rows_of(people: range, paper_ids: list[str]):
    return ((s, p, 1.0, ("diffusion",)) for s in people for p in paper_ids)


def ids_of(db, emails: int) -> list[int]:
    with db.session() as session:
        subscriber_batches.save_many(session, [SubscriberInput(email=f"w{n}@example.org", interests=("diffusion",))
                                               for n in range(emails)], "active", NOW)
        papers.upsert_papers(session, [make_paper(n) for n in range(4)], None, NOW)
        return sorted(s for s, _ in subscribers.active_profiles(session))


def test_a_chunk_whose_matching_fails_midway_is_rolled_back_and_the_chunks_before_it_stay(db):
    people = ids_of(db, 12_000 // 2)

    def failing_after(count: int):
        for n, row in enumerate(rows_of(people, ["arxiv:2611.00002", "arxiv:2611.00003"])):
            if n == count:
                raise RuntimeError("matching broke")
            yield row

    try:
        with matching.chunk_store(db, NOW) as store:
            store.put(rows_of(people, ["arxiv:2611.00000", "arxiv:2611.00001"]), ["arxiv:2611.00000", "arxiv:2611.00001"])
            store.put(failing_after(11_000), ["arxiv:2611.00002", "arxiv:2611.00003"])  # two batches handed over first
    except RuntimeError as exc:
        assert str(exc) == "matching broke"
    else:
        raise AssertionError("the matching error did not reach the caller")
    assert {p for _, p in stored_pairs(db)} == {"arxiv:2611.00000", "arxiv:2611.00001"}
    assert len(stored_pairs(db)) == 2 * len(people)
    with db.session() as session:
        assert [p.id for p in papers.unmatched_papers(session)] == ["arxiv:2611.00002", "arxiv:2611.00003"]


def test_a_chunk_the_database_refuses_raises_in_the_caller_and_stores_nothing_of_it(db):
    people = ids_of(db, 10)
    try:
        with matching.chunk_store(db, NOW) as store:
            store.put(rows_of(people, ["arxiv:2611.00000"]), ["arxiv:2611.00000"])
            store.put(rows_of(people, ["arxiv:2611.00001", "arxiv:2611.99999"]), ["arxiv:2611.00001"])  # no such paper
            store.put(rows_of(people, ["arxiv:2611.00002"]), ["arxiv:2611.00002"])
    except Exception as exc:  # the driver's IntegrityError, from whichever thread stored the chunk
        assert "FOREIGN KEY" in str(exc).upper()
    else:
        raise AssertionError("the database's refusal did not reach the caller")
    assert {p for _, p in stored_pairs(db)} == {"arxiv:2611.00000"}
    with db.session() as session:
        assert sorted(p.id for p in papers.unmatched_papers(session)) == [f"arxiv:2611.0000{n}" for n in (1, 2, 3)]
