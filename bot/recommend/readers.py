"""One model per reader, from their votes: a linear classifier, or nearest neighbours with few likes.

The arxiv-sanity-lite recipe: a reader's liked papers are the positives; their "not for me"
papers and a sample of recent papers they did not vote on (soft negatives: most papers are
not for any one reader) are the negatives; a LinearSVC with balanced class weights learns a
weight per feature, so its score of a paper is one dot product. With one or two liked papers
a classifier has too little to learn from: the score is then the cosine similarity to the
nearest liked paper. Without a liked paper there is no model (the digest stays as it was).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.svm import LinearSVC

from bot.recommend.features import PaperFeatures

MIN_LIKES_FOR_CLASSIFIER = 3
SOFT_NEGATIVES = 200  # recent unvoted papers per classifier: enough to learn what is common, cheap to fit
REGULARISATION = 0.1  # LinearSVC's C: strong, a reader has a handful of votes over 20,000 features
CLASSIFIER, NEIGHBOURS = "classifier", "neighbours"


@dataclass(frozen=True, eq=False)
class ReaderModel:
    """What one reader's votes taught: the liked papers (explanations) and how to score a paper."""

    subscriber_id: int
    liked: tuple[str, ...]  # liked papers the features hold, in id order
    voted: frozenset[str]  # every paper the reader voted on: never suggested back
    weights: np.ndarray | None = None  # a classifier's coefficients (float32) and bias; None: neighbours
    bias: float = 0.0

    @property
    def kind(self) -> str:
        return NEIGHBOURS if self.weights is None else CLASSIFIER


def soft_negatives(features: PaperFeatures, candidates: Sequence[str], size: int = SOFT_NEGATIVES) -> np.ndarray:
    """Rows of a fixed sample of the candidates (the same for every reader of a run: fitted once, reused)."""
    rows = np.array(sorted(features.row[p] for p in set(candidates) if p in features.row), dtype=np.int64)
    if len(rows) <= size:
        return rows
    return np.sort(np.random.default_rng(len(rows)).choice(rows, size, replace=False))


def fit_reader(features: PaperFeatures, subscriber_id: int, votes: Mapping[str, int],
               negatives: np.ndarray) -> ReaderModel | None:
    """The model of one reader's votes (+1 liked, -1 not for me), or None without a liked paper the features hold."""
    held = {p: v for p, v in votes.items() if p in features.row}
    liked = tuple(sorted(p for p, v in held.items() if v > 0))
    if not liked:
        return None
    voted = frozenset(votes)
    if len(liked) < MIN_LIKES_FOR_CLASSIFIER:
        return ReaderModel(subscriber_id, liked, voted)
    positive = [features.row[p] for p in liked]
    disliked = [features.row[p] for p, v in held.items() if v < 0]
    voted_rows = set(positive) | set(disliked)
    soft = [r for r in negatives if r not in voted_rows]
    rows = positive + sorted(disliked) + soft
    labels = np.r_[np.ones(len(positive)), np.zeros(len(rows) - len(positive))]
    if len(rows) == len(positive):  # nothing to tell the liked papers from: neighbours again
        return ReaderModel(subscriber_id, liked, voted)
    model = LinearSVC(C=REGULARISATION, class_weight="balanced", tol=1e-4, max_iter=2000)
    model.fit(features.matrix[rows], labels)
    return ReaderModel(subscriber_id, liked, voted, model.coef_[0].astype(np.float32), float(model.intercept_[0]))


def stacked(models: Sequence[ReaderModel], features: PaperFeatures) -> tuple[np.ndarray, list[slice]]:
    """All the models of a chunk as the columns of one dense matrix (features x rows), and each model's columns.

    A model's columns are its classifier's weights (if it has one), then its liked papers' rows
    (a neighbours model's score, and every model's explanations). Scores and similarities for
    every reader of the chunk are then ONE product of the papers' rows with this matrix.
    """
    spans, at = [], 0
    for model in models:
        width = len(model.liked) + (model.weights is not None)
        spans.append(slice(at, at + width))
        at += width
    matrix = np.zeros((features.matrix.shape[1], at), dtype=np.float32)
    rows = features.matrix
    for model, span in zip(models, spans):
        column = span.start
        if model.weights is not None:
            matrix[:, column] = model.weights
            column += 1
        for paper in model.liked:  # a sparse row written straight into its column: no dense copy of the likes
            start, end = rows.indptr[features.row[paper]], rows.indptr[features.row[paper] + 1]
            matrix[rows.indices[start:end], column] = rows.data[start:end]
            column += 1
    return matrix, spans
