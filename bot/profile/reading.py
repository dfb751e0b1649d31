"""A paper read once for the index: its folded words per segment, the atoms found, spans on demand.

The words are exactly those of `words.tokenize` (the reference evaluator's), found more
cheaply: a text that is ASCII once markup is neutralised (nearly every title and abstract)
needs no Unicode folding, so one C-level `findall` over its lowercased form gives its words.
Occurrences are kept as word positions; character spans, which only highlighting needs,
are computed when a Match is made (`span`).
"""

from __future__ import annotations

import re
from typing import AbstractSet

from bot.models import Paper
from bot.profile.atoms import AtomTable, Occurrence
from bot.profile.document import joined_with_offsets
from bot.profile.words import tokenize, unmarkup

# On ASCII text the words of `tokenize` are runs of letters and digits, folded by lower().
_ASCII_WORD = re.compile(r"[a-z0-9]+")
_ASCII_SPAN = re.compile(r"[A-Za-z0-9]+")


class Segment:
    """One stretch of a part where phrases may run: the title, the abstract, one author, one category."""

    __slots__ = ("_clean", "_spans", "offset", "part", "words")

    def __init__(self, part: str, offset: int, words: list[str], clean: str | None,
                 spans: list[tuple[int, int]] | None):
        self.part = part
        self.offset = offset  # where the segment starts in the part as displayed
        self.words = words
        self._clean = clean  # the ASCII text whose spans are still to be found
        self._spans = spans

    @classmethod
    def of_text(cls, part: str, text: str, offset: int = 0) -> Segment:
        """The words of a displayed text, through the ASCII shortcut when it applies."""
        clean = unmarkup(text)
        if clean.isascii():
            return cls(part, offset, _ASCII_WORD.findall(clean.lower()), clean, None)
        tokens = tokenize(text)
        return cls(part, offset, [w for w, _, _ in tokens], None, [(s, e) for _, s, e in tokens])

    def spans(self) -> list[tuple[int, int]]:
        """Each word's (start, end) in the segment's text, found on first use."""
        if self._spans is None:
            self._spans = [m.span() for m in _ASCII_SPAN.finditer(self._clean or "")]
            self._clean = None
        return self._spans


def paper_segments(paper: Paper) -> list[Segment]:
    """The title, abstract and author segments of a paper: the same for every index, so they may be reused."""
    segments = []
    for part, texts in (("title", [(paper.title, 0)]), ("abstract", [(paper.abstract, 0)]),
                        ("authors", joined_with_offsets(paper.authors))):
        segments.extend(Segment.of_text(part, text, offset) for text, offset in texts if text)
    return segments


class Reading:
    """The atoms found in one paper, with their occurrences.

    `segments` (from `paper_segments`) saves reading the paper's words again when the
    same paper goes through several indexes (render-time evidence does that per batch).
    `likes`: the papers this one is alike to (the `like:` atoms it holds).
    """

    __slots__ = ("found", "segments")

    def __init__(self, paper: Paper, trending: bool, table: AtomTable, segments: list[Segment] | None = None,
                 likes: AbstractSet[str] = frozenset()):
        self.segments: list[Segment] = []
        self.found: dict[int, list[Occurrence]] = {}
        for segment in paper_segments(paper) if segments is None else segments:
            table.scan(segment.part, segment.words, self._add(segment), self.found)
        if paper.categories and table.has_categories():
            for category, offset in joined_with_offsets(paper.categories):
                atoms = table.categories(category.casefold())
                if atoms:
                    seg = self._add(Segment("categories", offset, [category], None, [(0, len(category))]))
                    for atom in atoms:
                        self.found.setdefault(atom, []).append((seg, 0, 0))
        if trending and table.trending is not None:
            seg = self._add(Segment("trending", 0, ["trending"], None, [(0, 0)]))
            self.found[table.trending] = [(seg, 0, 0)]
        for liked in sorted(likes):
            atom = table.likes.get(liked)
            if atom is not None:
                self.found[atom] = [(self._add(Segment("like", 0, [liked], None, [(0, 0)])), 0, 0)]

    def _add(self, segment: Segment) -> int:
        self.segments.append(segment)
        return len(self.segments) - 1

    def span(self, occurrence: Occurrence) -> tuple[str, int, int]:
        """(part, start, end) of an occurrence in the part as displayed."""
        seg, first, last = occurrence
        segment = self.segments[seg]
        spans = segment.spans()
        return segment.part, segment.offset + spans[first][0], segment.offset + spans[last][1]
