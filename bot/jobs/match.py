"""The matching job: run new papers through every profile, and new profiles through recent papers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import AbstractSet

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
        index = ProfileIndex.build(unchanged)
        for chunk in _chunks(new_papers):
            similar = alike.of(index, chunk)
            with db.session() as session:
                added += _save(session, index, chunk, trending, now, similar)
                papers.mark_matched(session, [p.id for p in chunk], now)
    if changed:
        ids = sorted(backfilled)
        with db.session() as session:
            matches.drop_unsent(session, ids)
        index = ProfileIndex.build(changed)
        for chunk in _chunks(recent):
            similar = alike.of(index, chunk)
            with db.session() as session:
                added += _save(session, index, chunk, trending, now, similar)
        with db.session() as session:
            subscribers.mark_backfilled(session, ids, now)
    return MatchReport(len(new_papers), len(changed), added)


def _chunks(items: list[Paper]) -> list[list[Paper]]:
    return [items[start:start + PAPERS_PER_COMMIT] for start in range(0, len(items), PAPERS_PER_COMMIT)]


def _save(session: Session, index: ProfileIndex, chunk: list[Paper], trending: set[str], now: datetime,
          similar: Mapping[str, AbstractSet[str]] | None = None) -> int:
    """Store the matches of one chunk of papers, streamed (never all pairs in memory, no Match per pair)."""
    return matches.save_match_rows(session, index.match_sets(chunk, trending, similar=similar).rows(), now)
