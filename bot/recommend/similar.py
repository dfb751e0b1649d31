"""`like:PAPER` in a profile: the papers alike enough to a given paper (cosine of their TF-IDF rows)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from bot.recommend.features import PaperFeatures

# Cosine above which a paper is "like" another. On arXiv abstracts (tests/bench/eval_recommend.py) papers of
# one subfield mostly share 0.1-0.3 with each other and under 0.08 with the rest: 0.15 keeps close ones only.
LIKE_THRESHOLD = 0.15


def similar_papers(features: PaperFeatures, liked: Iterable[str], papers: Sequence[str],
                   threshold: float = LIKE_THRESHOLD) -> dict[str, frozenset[str]]:
    """For each liked paper the features hold: the `papers` alike to it above `threshold` (never itself).

    One product of the batch's rows with the liked papers' rows, whatever the number of `like:` lines.
    """
    targets = sorted({p for p in liked if p in features.row})
    batch = [p for p in dict.fromkeys(papers) if p in features.row]
    if not targets or not batch:
        return {p: frozenset() for p in targets}
    sims = np.asarray((features.rows(batch) @ features.rows(targets).T).todense())
    found = {}
    for j, target in enumerate(targets):
        hits = np.nonzero(sims[:, j] > threshold)[0]
        found[target] = frozenset(batch[i] for i in hits if batch[i] != target)
    return found
