"""The matching job: run new papers through every profile, and new profiles through recent papers."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import AbstractSet, Any

from sqlalchemy.orm import Session

from bot.models import Paper
from bot.profile import ProfileIndex, trending_ids
from bot.profile.heap import collector_paused
from bot.store import Database, matches, papers, subscribers

TRENDING_WINDOW = timedelta(days=7)


@dataclass(frozen=True)
class MatchReport:
    papers: int  # new papers run through the index
    profiles: int  # new or changed profiles run over recent papers
    matches: int  # new (subscriber, paper) matches stored


def current_trending(session: Session, now: datetime, top_n: int) -> set[str]:
    """Ids of the papers `is:trending` means now: each recent day's most upvoted."""
    return trending_ids(papers.upvote_days(session, now - TRENDING_WINDOW), top_n)


@dataclass
class Alike:
    """Which papers are alike to the papers `like:` interests name, for one matching run (bot/recommend).

    The features are those of the day's recent papers (fitted once per day and shared with the
    learn step), with the chunk's papers and the liked ones read with the same vocabulary.
    """

    db: Database
    now: datetime
    recent_days: int
    _recent: list[Paper] | None = field(default=None, repr=False)

    def of(self, index: ProfileIndex, chunk: list[Paper]) -> Mapping[str, AbstractSet[str]] | None:
        """For each liked paper of `index`: the chunk's papers alike to it (None: the index has no `like:`)."""
        liked = index.liked_papers()
        if not liked:
            return None
        from bot.recommend import day_features, similar_papers  # scikit-learn loads only for `like:` profiles

        with self.db.session() as session:
            if self._recent is None:
                self._recent = papers.recent_papers(session, self.now - timedelta(days=self.recent_days))
            stored = papers.papers_by_id(session, liked)
        features = day_features(self.now.date(), self._recent).extended([*chunk, *stored.values()])
        return similar_papers(features, stored, [p.id for p in chunk])


PAPERS_PER_COMMIT = 100  # a broad day stores millions of matches: bounded transactions, bounded memory


def match_pending(db: Database, now: datetime, *, recent_days: int, trending_top: int) -> MatchReport:
    """Match what is new since the last run; each pair is stored once, whatever runs twice.

    Two passes, each one index over its profiles with papers read in chunks of
    PAPERS_PER_COMMIT: the new papers through every unchanged profile, then the recent
    papers (today's new ones among them) through the new or changed profiles, whose unsent
    matches are dropped first (the person may have dropped that interest). Each chunk
    commits its matches (and marks its papers matched); the changed profiles are marked
    done after their last chunk. A crash between chunks loses nothing and stores nothing
    twice: a paper not marked is matched again (stored pairs are skipped), a profile not
    marked is dropped and run again. The cyclic garbage collector is paused meanwhile (bot/profile/heap.py).
    """
    with collector_paused():
        return _match_pending(db, now, recent_days=recent_days, trending_top=trending_top)


def _match_pending(db: Database, now: datetime, *, recent_days: int, trending_top: int) -> MatchReport:
    with db.session() as session:
        trending = current_trending(session, now, trending_top)
        new_papers = papers.unmatched_papers(session)
        changed = subscribers.profiles_needing_backfill(session)
        recent = papers.recent_papers(session, now - timedelta(days=recent_days)) if changed else []
        backfilled = {subscriber_id for subscriber_id, _ in changed}
        unchanged = [p for p in subscribers.active_profiles(session) if p[0] not in backfilled] if new_papers else []
    added = 0
    alike = Alike(db, now, recent_days)
    if new_papers:
        added += _match_chunks(db, ProfileIndex.build(unchanged), new_papers, trending, now, alike, mark_matched=True)
    if changed:
        ids = sorted(backfilled)
        with db.session() as session:
            matches.drop_unsent(session, ids)
        added += _match_chunks(db, ProfileIndex.build(changed), recent, trending, now, alike, mark_matched=False)
        with db.session() as session:
            subscribers.mark_backfilled(session, ids, now)
    if added:
        with db.session() as session:
            matches.refresh_statistics(session)
    return MatchReport(len(new_papers), len(changed), added)


def _match_chunks(db: Database, index: ProfileIndex, batch: list[Paper], trending: set[str], now: datetime,
                  alike: Alike, *, mark_matched: bool) -> int:
    """Run papers through `index` a chunk at a time, each chunk's matches stored (streamed) in one transaction."""
    with chunk_store(db, now) as store:
        for chunk in _chunks(batch):
            rows = index.match_sets(chunk, trending, similar=alike.of(index, chunk)).rows()
            store.put(rows, [p.id for p in chunk] if mark_matched else None)
    return store.added


def _chunks(items: list[Paper]) -> list[list[Paper]]:
    return [items[start:start + PAPERS_PER_COMMIT] for start in range(0, len(items), PAPERS_PER_COMMIT)]


Row = tuple[int, str, float, tuple[str, ...]]  # (subscriber, paper id, score, interest lines): MatchSets.rows()


class ChunkStore:
    """Stores each chunk's matches in one transaction, inline (SQLite) or in a thread of its own (PostgreSQL).

    On PostgreSQL the database does most of storing's work in its own process (a typical day's
    590,000 rows cost it ~15 s: indexes and foreign-key checks), so a thread hands the rows over
    while this one matches the next chunk: the two overlap on two cores. The rows travel in
    batches through a short queue (bounded memory on a broad day); chunks commit in order, each
    with its papers marked matched, and a chunk whose matching failed is rolled back, not committed.
    SQLite runs in this process and would take the GIL back and forth on every row: inline.
    """

    BATCH = 5000  # rows per hand-over
    _END, _ABORT = object(), object()  # the chunk's rows are all there; matching failed: roll back

    def __init__(self, db: Database, now: datetime) -> None:
        self.db, self.now = db, now
        self.added = 0
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=4)
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        if not db.is_sqlite:
            self._thread = threading.Thread(target=self._write_all, name="paperpost-store-matches", daemon=True)
            self._thread.start()

    def put(self, rows: Iterable[Row], matched_paper_ids: list[str] | None = None) -> None:
        """Store one chunk's rows in one transaction (with these papers marked matched in it)."""
        if self._thread is None:
            with self.db.session() as session:
                self._store(session, rows, matched_paper_ids)
            return
        self._hand(_Chunk(matched_paper_ids))
        batch: list[Row] = []
        for row in rows:
            batch.append(row)
            if len(batch) == self.BATCH:
                self._hand(batch)
                batch = []
        if batch:
            self._hand(batch)
        self._hand(self._END)

    def close(self, failed: bool = False) -> None:
        """Wait for the chunks handed over to be stored (`failed`: roll back the one being handed over)."""
        if self._thread is None:
            return
        self._queue.put(self._ABORT if failed else None)
        self._thread.join()
        if self._error is not None and not failed:
            raise self._error

    def _hand(self, item: Any) -> None:
        if self._error is not None:  # the writer stopped: say why here, in the matching thread
            raise self._error
        self._queue.put(item)

    def _store(self, session: Session, rows: Iterable[Row], matched_paper_ids: list[str] | None) -> None:
        self.added += matches.save_match_rows(session, rows, self.now)
        if matched_paper_ids is not None:
            papers.mark_matched(session, matched_paper_ids, self.now)

    def _write_all(self) -> None:
        """The writer thread: one transaction per chunk, until None (done) or _ABORT (matching failed)."""
        try:
            while isinstance(chunk := self._queue.get(), _Chunk):
                with self.db.session() as session:
                    self._store(session, self._rows_of_chunk(), chunk.matched_paper_ids)
        except _ChunkAbandoned:
            return  # rolled back; the matching thread raises its own error
        except BaseException as exc:  # noqa: BLE001 - handed to the matching thread, which raises it
            self._error = exc
            while not self._stops(self._queue.get()):  # let the matching thread finish its puts
                pass

    def _rows_of_chunk(self) -> Iterator[Row]:
        while (item := self._queue.get()) is not self._END:
            if self._stops(item):
                raise _ChunkAbandoned  # rolls the chunk's transaction back
            yield from item

    def _stops(self, item: Any) -> bool:
        """The matching thread is done (None) or failed (_ABORT)."""
        return item is None or item is self._ABORT


@dataclass(frozen=True)
class _Chunk:
    """The start of a chunk handed to the writer thread: its rows follow, then ChunkStore._END."""

    matched_paper_ids: list[str] | None


class _ChunkAbandoned(Exception):
    """Matching stopped in the middle of a chunk: its rows must not be committed."""


@contextmanager
def chunk_store(db: Database, now: datetime) -> Iterator[ChunkStore]:
    """A ChunkStore, closed at the end of the block: every chunk stored, or the unfinished one rolled back."""
    store = ChunkStore(db, now)
    try:
        yield store
    except BaseException:
        store.close(failed=True)
        raise
    store.close()
