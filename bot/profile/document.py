"""A paper as the matcher reads it: the folded words of each part, with spans, read once.

Spans index the displayed text of each part: `paper.title`, `paper.abstract`,
`", ".join(paper.authors)` for authors and `", ".join(paper.categories)` for categories
(the way renderers show them), so a Hit of any field can be highlighted where it is shown.
Each author is a separate segment: a phrase never runs from one name into the next.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.models import Paper
from bot.profile.words import Token, tokenize

SEPARATOR = ", "  # between authors and between categories, as displayed


@dataclass(frozen=True)
class Document:
    """The matchable parts of one paper."""

    segments: dict[str, list[list[Token]]]  # "title" / "abstract" / "authors" -> segments
    categories: list[Token]  # casefolded whole category, start, end
    trending: bool
    likes: frozenset[str] = frozenset()  # the papers this one is alike to (`like:`)


def joined_with_offsets(items: tuple[str, ...]) -> list[tuple[str, int]]:
    """Each item with its offset in the items joined by SEPARATOR (as renderers show them)."""
    out, offset = [], 0
    for item in items:
        out.append((item, offset))
        offset += len(item) + len(SEPARATOR)
    return out


def read_paper(paper: Paper, trending: bool = False, likes: frozenset[str] = frozenset()) -> Document:
    """Tokenise a paper's title, abstract, authors and categories once, for matching."""
    authors = [[(w, s + off, e + off) for w, s, e in tokenize(name)] for name, off in joined_with_offsets(paper.authors)]
    categories = [(cat.casefold(), off, off + len(cat)) for cat, off in joined_with_offsets(paper.categories)]
    return Document(
        segments={"title": [tokenize(paper.title)], "abstract": [tokenize(paper.abstract)], "authors": authors},
        categories=categories,
        trending=trending,
        likes=likes,
    )
