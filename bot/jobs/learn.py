"""The learn step: what readers' votes teach, written on their matches just before a digest takes them.

For the subscribers being planned who have a liked paper and unsent keyword matches on email:
their model (bot/recommend) scores those matches (`matches.learned`: the order within a band
of keyword evidence) and replaces their unsent suggestions by at most 3 new ones ("You may also
like": recent papers no interest of theirs matched, that they did not vote on, rated above the
threshold). Everyone else planned has their unsent learned scores and suggestions cleared: a
subscriber with no votes gets exactly the keyword digest. The rows are stored, and the digest
is built from them, so every send attempt shows the same digest.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from bot.models import Paper
from bot.store import matches, papers, suggestions, votes

if TYPE_CHECKING:
    from bot.recommend import PaperFeatures, ReaderScores


@dataclass(frozen=True)
class LearnReport:
    readers: int = 0  # readers whose model scored their matches
    scored: int = 0  # keyword matches given a learned score
    suggested: int = 0  # suggestions stored


@dataclass
class Learner:
    """The learn step of one planning pass: recent papers and their features read once, readers a chunk at a time."""

    now: datetime
    recent_days: int
    _recent: list[Paper] | None = field(default=None, repr=False)
    _unmatched: set[str] = field(default_factory=set, repr=False)
    _had_model: set[int] | None = field(default=None, repr=False)  # who has learned rows to clear, read once

    def _forget(self, session: Session, subscriber_ids: Sequence[int]) -> None:
        """Clear learned scores and suggestions of these readers, skipping those who never had any.

        Read once per pass: only this step writes such rows, and it never forgets a reader it just modelled.
        """
        if self._had_model is None:
            self._had_model = matches.subscribers_with_learned(session)
        suggestions.forget_learned(session, [sid for sid in subscriber_ids if sid in self._had_model])

    def learn(self, session: Session, subscriber_ids: Sequence[int]) -> LearnReport:
        """Score and suggest for these subscribers, in `session` (the planner's transaction)."""
        ids = sorted(set(subscriber_ids))
        if not ids:
            return LearnReport()
        voted = votes.votes_by_subscriber(session, ids)
        likers = sorted(sid for sid, given in voted.items() if any(v > 0 for v in given.values()))
        pending = suggestions.unsent_keyword_papers(session, likers) if likers else {}
        readers = {sid: voted[sid] for sid in likers if pending.get(sid)}
        self._forget(session, [sid for sid in ids if sid not in readers])
        if not readers:
            return LearnReport()
        results = list(self.scores(session, readers, pending))
        scored = suggestions.set_learned(session, ((r.subscriber_id, p, r.learned.get(p))
                                                   for r in results for p in pending[r.subscriber_id]))
        modelled = [r.subscriber_id for r in results]
        self._forget(session, [sid for sid in readers if sid not in set(modelled)])
        stored = suggestions.replace_suggestions(
            session, modelled, ((r.subscriber_id, s.paper_id, s.score, s.liked) for r in results for s in r.suggestions),
            self.now)
        return LearnReport(len(results), scored, stored)

    def scores(self, session: Session, readers: dict[int, dict[str, int]],
               pending: dict[int, list[str]]) -> list[ReaderScores]:
        """The readers' scores of their pending papers and their suggestions among the recent matched papers."""
        from bot.recommend import score_readers  # scikit-learn loads only when someone voted

        features, candidates = self.features(session, {p for given in readers.values() for p in given}
                                             | {p for sid in readers for p in pending[sid]})
        taken = suggestions.taken_papers(session, sorted(readers))
        return list(score_readers(features, readers, candidates, wanted=pending, taken=taken))

    def features(self, session: Session, also: set[str]) -> tuple[PaperFeatures, list[str]]:
        """Features of the recent papers (fitted once per day) with the older papers `also` names; the candidates."""
        from bot.recommend import day_features

        if self._recent is None:
            self._recent = papers.recent_papers(session, self.now - timedelta(days=self.recent_days))
            self._unmatched = papers.unmatched_ids(session)  # their matches are not known yet: never suggested
        recent_ids = {p.id for p in self._recent}
        older = papers.papers_by_id(session, also - recent_ids)
        features = day_features(self.now.date(), self._recent).extended(older.values())
        return features, [p.id for p in self._recent if p.id not in self._unmatched]


def learn_for(session: Session, subscriber_ids: Sequence[int], now: datetime, *, recent_days: int) -> LearnReport:
    """One learn step for these subscribers (see Learner)."""
    return Learner(now, recent_days).learn(session, subscriber_ids)


def preview(session: Session, subscriber_id: int, now: datetime, *, recent_days: int,
            limit: int) -> ReaderScores | None:
    """What one reader's model would add today (nothing is written); None without a liked paper."""
    given = votes.votes_of(session, subscriber_id)
    if not any(v > 0 for v in given.values()):
        return None
    from bot.recommend import score_readers

    learner = Learner(now, recent_days)
    features, candidates = learner.features(session, set(given))
    taken = suggestions.taken_papers(session, [subscriber_id])
    found = list(score_readers(features, {subscriber_id: given}, candidates, taken=taken, limit=limit))
    return found[0] if found else None
