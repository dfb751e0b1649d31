"""The plain reference evaluator: one interest against one paper, by walking the tree.

Slow and obviously correct on purpose: the index must give exactly its answers (a property
test checks it). Hits: every occurrence of every present leaf in a satisfied part of the
tree (both sides of a satisfied AND, each satisfied side of an OR, nothing from exclusions).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import AbstractSet

from bot.models import Hit, Paper
from bot.profile.document import Document, read_paper
from bot.profile.grammar import parse_interest
from bot.profile.nodes import FIELD_PARTS, And, Field, Like, Node, Not, Or, Phrase, Prefix, Term, Trending
from bot.profile.words import same_word

_FIELD_ORDER = {"title": 0, "abstract": 1, "authors": 2, "categories": 3, "trending": 4, "like": 5}
TRENDING_HIT = Hit("trending", "trending", 0, 0)


def like_hit(paper_id: str) -> Hit:
    """The hit of `like:PAPER` in a paper alike to it: the term is the liked paper's id."""
    return Hit(paper_id, "like", 0, 0)  # type: ignore[arg-type] # a field with no text to highlight


def hit_order(hit: Hit) -> tuple[int, int, int, str]:
    """Sort key for hits: by field as displayed, then position."""
    return (_FIELD_ORDER[hit.field], hit.start, hit.end, hit.term)


def evaluate(query: Node | str, paper: Paper, trending: AbstractSet[str] = frozenset(),
             similar: Mapping[str, AbstractSet[str]] | None = None) -> tuple[Hit, ...] | None:
    """The hits of one interest in one paper, or None when it does not match.

    `similar[PAPER]`: the papers alike to PAPER (what `like:PAPER` matches).
    """
    node = parse_interest(query) if isinstance(query, str) else query
    likes = frozenset(liked for liked, alike in (similar or {}).items() if paper.id in alike)
    hits = _walk(node, read_paper(paper, paper.id in trending, likes), None)
    return None if hits is None else tuple(sorted(set(hits), key=hit_order))


def _walk(node: Node, doc: Document, field: str | None) -> list[Hit] | None:
    if isinstance(node, And):
        out: list[Hit] = []
        for item in node.items:
            hits = _walk(item, doc, field)
            if hits is None:
                return None
            out.extend(hits)
        return out
    if isinstance(node, Or):
        results = [_walk(item, doc, field) for item in node.items]
        if all(r is None for r in results):
            return None
        return [hit for r in results if r is not None for hit in r]
    if isinstance(node, Not):
        return [] if _walk(node.item, doc, field) is None else None
    if isinstance(node, Field):
        return _walk(node.item, doc, node.name)
    if isinstance(node, Trending):
        return [TRENDING_HIT] if doc.trending else None
    if isinstance(node, Like):
        return [like_hit(node.paper_id)] if node.paper_id in doc.likes else None
    hits = _category(node, doc) if field == "cat" else _words(node, doc, field)
    return hits or None


def _category(leaf: Term | Phrase | Prefix, doc: Document) -> list[Hit]:
    if isinstance(leaf, Prefix):
        return [Hit(leaf.text, "categories", s, e) for cat, s, e in doc.categories if cat.startswith(leaf.stem)]
    assert isinstance(leaf, Term)  # the parser makes only Term and Prefix inside cat:
    return [Hit(leaf.text, "categories", s, e) for cat, s, e in doc.categories if cat == leaf.word]


def _words(leaf: Term | Phrase | Prefix, doc: Document, field: str | None) -> list[Hit]:
    hits: list[Hit] = []
    for part in FIELD_PARTS[field]:
        for seg in doc.segments[part]:
            for i in range(len(seg)):
                end = _match_at(leaf, seg, i)
                if end is not None:
                    hits.append(Hit(leaf.text, part, seg[i][1], seg[end][2]))  # type: ignore[arg-type]
    return hits


def _match_at(leaf: Term | Phrase | Prefix, seg: list[tuple[str, int, int]], i: int) -> int | None:
    """Index of the last token of an occurrence of `leaf` starting at token i, or None."""
    if isinstance(leaf, Prefix):
        return i if seg[i][0].startswith(leaf.stem) else None
    wanted = (leaf.word,) if isinstance(leaf, Term) else leaf.words
    if i + len(wanted) > len(seg):
        return None
    if all(same_word(seg[i + j][0], w) for j, w in enumerate(wanted)):
        return i + len(wanted) - 1
    return None
