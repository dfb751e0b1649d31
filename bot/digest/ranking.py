"""The order of matches: title hits over abstract hits, more interests over fewer, then upvotes and recency.

`score` folds the first three into one number (relevance in whole units, popularity as a
fraction below one unit, so it only breaks ties); `rank` sorts by it, then by recency.
Keyword evidence comes first: a reader's learned score (from their votes) only reorders
matches within a band (the same title hit and number of interests); without votes the
order is exactly the keyword order.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import UTC, datetime

from bot.models import Hit, Match, Paper

_TITLE = 100.0  # any hit in the title outweighs everything else
_INTEREST = 10.0  # each matched interest (up to 9)
_TERM = 1.0  # each distinct matched term (up to 9)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def score(hits: Iterable[Hit], interests: int, upvotes: int | None) -> float:
    """A match's score: 100 if a hit is in the title, 10 per interest, 1 per term, plus upvotes/(upvotes+50)."""
    hits = list(hits)
    return score_of(any(h.field == "title" for h in hits), interests, len({h.term.casefold() for h in hits}), upvotes)


def score_of(title: bool, interests: int, terms: int, upvotes: int | None) -> float:
    """`score` from what it counts: a title hit, the matched interests, the distinct terms, the upvotes."""
    return _TITLE * title + _INTEREST * min(interests, 9) + _TERM * min(terms, 9) + popularity(upvotes)


def popularity(upvotes: int | None) -> float:
    """The part of a score below one unit: upvotes / (upvotes + 50)."""
    return upvotes / (upvotes + 50) if upvotes and upvotes > 0 else 0.0


def rank(matches: Iterable[Match], papers_by_id: Mapping[str, Paper]) -> list[Match]:
    """Matches best first, each re-scored with its paper's current upvotes; ties go to the newest paper.

    A match with hits is scored from them; a stored match (hits left for render time) keeps
    the relevance part of its score (whole units): its hits are not needed to rank it.
    """
    keyed = []
    for m in matches:
        paper = papers_by_id.get(m.paper_id)
        upvotes = paper.upvotes if paper else None
        new = score(m.hits, len(m.interests), upvotes) if m.hits else math.floor(m.score) + popularity(upvotes)
        keyed.append(((-band(new), -_learned(m), -new, -_when(paper), m.paper_id), new, m))
    keyed.sort(key=lambda entry: entry[0])
    # A new Match only where the score moved (dataclasses.replace costs microseconds; a digest ranks hundreds).
    return [m if m.score == new else replace(m, score=new) for _, new, m in keyed]


def band(score: float) -> int:
    """The keyword evidence a learned score may not overturn: a title hit and the number of interests."""
    return int(score // _INTEREST)


def _learned(match: Match) -> float:
    return match.learned if match.learned is not None else -math.inf


def _when(paper: Paper | None) -> float:
    """Seconds since the epoch of a paper's first appearance (0 when unknown)."""
    when = paper and (paper.published or paper.updated)
    if not when:
        return 0.0
    if when.tzinfo is None:  # Paper dates are UTC by contract
        when = when.replace(tzinfo=UTC)
    return (when - _EPOCH).total_seconds()
