"""Scores for many readers at once: models fitted a chunk at a time, one matrix product per chunk.

A reader's learned score of a paper is their model's: the classifier's margin (above 0: on the
liked side), or the cosine to the nearest liked paper. Suggestions are the best candidates a
reader has not voted on and that no interest of theirs matched, above the threshold of their
model's kind, each with the liked paper nearest to it (its explanation). Memory stays bounded
whatever the number of readers: a chunk's models and scores are dropped before the next.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import AbstractSet

import numpy as np

from bot.recommend.features import PaperFeatures
from bot.recommend.readers import CLASSIFIER, NEIGHBOURS, ReaderModel, fit_reader, soft_negatives, stacked

MAX_SUGGESTIONS = 3
# A suggestion passes its model's floor (a classifier's margin, 0 being its boundary; a neighbours model's
# cosine) AND is at least SIMILARITY_FLOOR alike to the liked paper that explains it: "like *Title*" is
# then always true, whichever model ordered it. Margins of papers unseen in training sit near -0.4 for
# everything; the classifier floor only drops what it clearly learned against (a "not for me" look-alike).
THRESHOLDS = {CLASSIFIER: -0.6, NEIGHBOURS: 0.12}
SIMILARITY_FLOOR = 0.12
LOOKED_AT = 50  # candidates examined per reader at most, best first
READERS_PER_CHUNK = 32  # models held at once: ~32 readers x (1 + their likes) x 20,000 features, ~25 MB


@dataclass(frozen=True)
class Suggestion:
    """A paper the model would add: its score and the liked paper nearest to it."""

    paper_id: str
    score: float
    liked: str


@dataclass(frozen=True)
class ReaderScores:
    """What one reader's model says today: scores of the papers asked for, and suggestions."""

    subscriber_id: int
    kind: str  # classifier or neighbours
    learned: dict[str, float]
    suggestions: tuple[Suggestion, ...]


def score_readers(features: PaperFeatures, votes: Mapping[int, Mapping[str, int]], candidates: Sequence[str], *,
                  wanted: Mapping[int, Iterable[str]] | None = None,
                  taken: Mapping[int, AbstractSet[str]] | None = None,
                  limit: int = MAX_SUGGESTIONS, chunk: int = READERS_PER_CHUNK,
                  thresholds: Mapping[str, float] = THRESHOLDS,
                  similarity_floor: float = SIMILARITY_FLOOR) -> Iterator[ReaderScores]:
    """Each voter's scores (readers without a liked paper the features hold are left out).

    `candidates`: the papers suggestions come from (held by `features`); `wanted[reader]`:
    papers to score for ranking (their keyword matches); `taken[reader]`: papers never to
    suggest them (matched already). Voted papers are never suggested. `thresholds`: by model
    kind, the score a suggestion must pass, and `similarity_floor` its cosine to the liked paper
    that explains it (the offline evaluation ranks without either).
    """
    wanted = wanted or {}
    taken = taken or {}
    pool = sorted({p for p in candidates if p in features.row})  # id order: ties never depend on input order
    negatives = soft_negatives(features, pool)
    readers = sorted(votes)
    for start in range(0, len(readers), chunk):
        models = [m for m in (fit_reader(features, r, votes[r], negatives) for r in readers[start:start + chunk]) if m]
        if not models:
            continue
        asked = {r: [p for p in dict.fromkeys(wanted.get(r, ())) if p in features.row] for r in
                 (m.subscriber_id for m in models)}
        papers = list(dict.fromkeys([*pool, *(p for ps in asked.values() for p in ps)]))
        at = {p: i for i, p in enumerate(papers)}
        matrix, spans = stacked(models, features)
        products = np.asarray(features.rows(papers) @ matrix)  # papers x model columns: the one product
        for model, span in zip(models, spans):
            block = products[:, span]
            sims = block if model.weights is None else block[:, 1:]  # cosine to each liked paper
            nearest = sims.argmax(axis=1)
            similarity = sims[np.arange(len(papers)), nearest]
            scores = similarity if model.weights is None else block[:, 0] + model.bias
            learned = {p: float(scores[at[p]]) for p in asked[model.subscriber_id]}
            chosen = _suggestions(model, pool, scores, nearest, similarity, taken.get(model.subscriber_id, frozenset()),
                                  limit, thresholds[model.kind], similarity_floor)
            yield ReaderScores(model.subscriber_id, model.kind, learned, chosen)


def _suggestions(model: ReaderModel, pool: Sequence[str], scores: np.ndarray, nearest: np.ndarray,
                 similarity: np.ndarray, taken: AbstractSet[str], limit: int,
                 threshold: float, similarity_floor: float) -> tuple[Suggestion, ...]:
    """The best `limit` pool papers above the floors, not voted, not taken; ties by id."""
    order = np.argsort(-scores[:len(pool)], kind="stable")
    out: list[Suggestion] = []
    for looked, i in enumerate(order):
        if scores[i] <= threshold or len(out) == limit or looked == LOOKED_AT:
            break
        paper = pool[i]
        if paper in model.voted or paper in taken:
            continue
        if similarity[i] > similarity_floor:  # the liked paper nearest to it (ties: the smaller id) explains it
            out.append(Suggestion(paper, round(float(scores[i]), 6), model.liked[int(nearest[i])]))
    return tuple(out)
