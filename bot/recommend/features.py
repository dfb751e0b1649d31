"""Text features of papers: TF-IDF over title and abstract, fitted on the recent papers once per day.

One vectoriser pass per paper per day: `day_features` keeps the last fit of this process,
keyed by the day and the set of papers, so the learn step, `like:` matching and
`paperpost recommend` share it. Rows are L2-normalised: a dot product of two rows is their
cosine. Categories are not features by default (they are what the offline evaluation uses
as labels); `with_categories` adds them for that evaluation only.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from threading import Lock

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

from bot.models import Paper

MAX_FEATURES = 20_000  # a day's vocabulary (words and word pairs seen in two papers or more) fits well under it
CATEGORY_WEIGHT = 0.5  # share of a row's length given to its categories when they are features


def paper_text(paper: Paper) -> str:
    """What the model reads of a paper: its title (twice: it says most) and its abstract."""
    return f"{paper.title}. {paper.title}. {paper.abstract}"


@dataclass(frozen=True, eq=False)
class PaperFeatures:
    """Feature rows of a set of papers (CSR, float32, unit length) and where each paper's row is."""

    ids: tuple[str, ...]
    matrix: sparse.csr_matrix
    vectorizer: TfidfVectorizer
    with_categories: bool = False
    row: dict[str, int] = field(init=False, repr=False, compare=False)  # paper id -> row number

    def __post_init__(self) -> None:
        object.__setattr__(self, "row", {paper_id: i for i, paper_id in enumerate(self.ids)})

    def __contains__(self, paper_id: str) -> bool:
        return paper_id in self.row

    def rows(self, paper_ids: Sequence[str]) -> sparse.csr_matrix:
        """The rows of these papers (each must be held), in that order."""
        return self.matrix[[self.row[p] for p in paper_ids]]

    def cosine(self, a: str, b: str) -> float:
        """How alike two held papers are, 0 (nothing shared) to 1."""
        return float(self.matrix[self.row[a]].multiply(self.matrix[self.row[b]]).sum())

    def extended(self, papers: Iterable[Paper]) -> PaperFeatures:
        """These features with more papers (older ones: a vote, a `like:`) read with the same vocabulary."""
        extra = [p for p in dict((p.id, p) for p in papers).values() if p.id not in self.row]
        if not extra:
            return self
        rows = _transform(self.vectorizer, extra, self.with_categories)
        return PaperFeatures(self.ids + tuple(p.id for p in extra), sparse.vstack([self.matrix, rows]).tocsr(),
                             self.vectorizer, self.with_categories)



def fit_features(papers: Sequence[Paper], *, with_categories: bool = False) -> PaperFeatures:
    """Fit TF-IDF (sublinear tf, words and word pairs, English stop words dropped) on `papers` and read them."""
    unique = list(dict((p.id, p) for p in papers).values())
    vectorizer = TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2), min_df=2 if len(unique) >= 50 else 1,
                                 max_df=0.5 if len(unique) >= 50 else 1.0, max_features=MAX_FEATURES,
                                 stop_words="english", dtype=np.float32)
    texts = [paper_text(p) for p in unique]
    try:
        words = vectorizer.fit_transform(texts)
    except ValueError:  # no paper has a word the vectoriser keeps (an empty day, or only stop words)
        vectorizer = TfidfVectorizer(dtype=np.float32, token_pattern=r"(?u)\b\w+\b")
        words = vectorizer.fit_transform([*texts, "paper"])[:len(texts)]
    matrix = _with_categories(words, unique) if with_categories else words
    return PaperFeatures(tuple(p.id for p in unique), normalize(matrix).astype(np.float32).tocsr(), vectorizer,
                         with_categories)


def _transform(vectorizer: TfidfVectorizer, papers: Sequence[Paper], with_categories: bool) -> sparse.csr_matrix:
    words = vectorizer.transform([paper_text(p) for p in papers])
    return normalize(_with_categories(words, papers) if with_categories else words).astype(np.float32).tocsr()


_CATEGORY_SLOTS = 1 << 12  # categories hashed into their own columns, after the words


def _with_categories(words: sparse.csr_matrix, papers: Sequence[Paper]) -> sparse.csr_matrix:
    """Word rows with each paper's categories appended as one-hot columns (the evaluation's "with" variant)."""
    import zlib

    rows, cols = [], []
    for i, paper in enumerate(papers):
        for category in set(paper.categories):
            rows.append(i)
            cols.append(zlib.crc32(category.encode()) % _CATEGORY_SLOTS)
    cats = sparse.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(len(papers), _CATEGORY_SLOTS))
    return sparse.hstack([normalize(words) * (1 - CATEGORY_WEIGHT), normalize(cats) * CATEGORY_WEIGHT]).tocsr()


_cache: dict[tuple[date, frozenset[str], bool], PaperFeatures] = {}
_lock = Lock()


def day_features(day: date, papers: Sequence[Paper]) -> PaperFeatures:
    """`fit_features(papers)`, fitted once per day and set of papers in this process (the last fit is kept)."""
    key = (day, frozenset(p.id for p in papers), False)
    with _lock:
        found = _cache.get(key)
    if found is not None:
        return found
    fitted = fit_features(papers)
    with _lock:
        _cache.clear()  # one day's features at a time: memory stays bounded in a long-lived worker
        _cache[key] = fitted
    return fitted
