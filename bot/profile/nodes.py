"""The parsed form of one interest: a tree of frozen, hashable nodes (equal text, equal tree).

Leaves keep `text`, the term as the subscriber wrote it (for "why it matched"), and the folded
form used to match. Inside `Field("cat", ...)` a leaf's folded form is a whole category
(`cs.cl`, or the prefix `cs.` for `cat:cs.*`), not words.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Union

FieldName = Literal["ti", "abs", "au", "cat"]


@dataclass(frozen=True)
class Term:
    """One word (`model`; plurals match), or one category inside `cat:`."""

    text: str
    word: str


@dataclass(frozen=True)
class Phrase:
    """Consecutive words in one field (`"reward model"`, or `fine-tuning` written unquoted)."""

    text: str
    words: tuple[str, ...]


@dataclass(frozen=True)
class Prefix:
    """Any word starting with `stem` (`align*`), or any category starting with it (`cat:cs.*`)."""

    text: str
    stem: str


@dataclass(frozen=True)
class Trending:
    """`is:trending`: the paper is among the day's most upvoted."""

    text: str = "trending"


@dataclass(frozen=True)
class Like:
    """`like:PAPER`: the paper is alike to a stored paper (its TF-IDF cosine above a threshold).

    `text` is the paper's canonical id (`arxiv:2401.12345`): the hit's term, and what `why` names.
    Which papers are alike is computed outside the pure index (bot/recommend) and passed in.
    """

    text: str

    @property
    def paper_id(self) -> str:
        return self.text


@dataclass(frozen=True)
class And:
    """Every item matches."""

    items: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    """At least one item matches."""

    items: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    """The item does not match (`-survey`, `NOT survey`)."""

    item: Node


@dataclass(frozen=True)
class Field:
    """The item is looked for only in one field: title, abstract, authors or categories."""

    name: FieldName
    item: Node


Leaf = Union[Term, Phrase, Prefix, Trending, Like]
Node = Union[Term, Phrase, Prefix, Trending, Like, And, Or, Not, Field]

# Which parts of a paper a leaf looks at, by enclosing field (None: no field given).
FIELD_PARTS: dict[str | None, tuple[str, ...]] = {
    None: ("title", "abstract"),
    "ti": ("title",),
    "abs": ("abstract",),
    "au": ("authors",),
    "cat": ("categories",),
}


def liked_ids(node: Node) -> list[str]:
    """The paper ids of the `like:` leaves of a tree, left to right."""
    return [leaf.paper_id for leaf in leaves(node) if isinstance(leaf, Like)]


def leaves(node: Node) -> list[Leaf]:
    """Every leaf of a tree, left to right."""
    if isinstance(node, (And, Or)):
        return [leaf for item in node.items for leaf in leaves(item)]
    if isinstance(node, (Not, Field)):
        return leaves(node.item)
    return [node]


def is_positive(node: Node) -> bool:
    """Whether a match needs at least one leaf to be PRESENT (not only absences).

    The index relies on it: a positive interest can only match a paper in which one of its
    trigger leaves occurs, so candidates come from occurrences, never from every paper.
    """
    if isinstance(node, And):
        return any(is_positive(item) for item in node.items)
    if isinstance(node, Or):
        return all(is_positive(item) for item in node.items)
    if isinstance(node, Not):
        return False
    if isinstance(node, Field):
        return is_positive(node.item)
    return True
