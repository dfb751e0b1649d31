"""The result of matching a batch, compactly: who matches which papers through which interest lines.

Deciding the pairs costs one bitset per distinct interest and one row per (subscriber, interest
that matched something): no object per (subscriber, paper). Hits and scores, which only a
digest or a stored match needs, are made by `matches()`, once per (interest, paper) and
shared by every subscriber holding that interest.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from bot.models import Hit, Match, Paper
from bot.profile.program import Program, leaf_hits
from bot.profile.reading import Reading
from bot.profile.reference import hit_order
from bot.ranking import score

Held = tuple[int, str, int]  # interest line number, its text, index of its (program, papers) result
_Row = tuple[int, str, float, tuple[Hit, ...]]  # paper index, paper id, score alone, hits


class MatchSets:
    """Per subscriber, the batch's papers it matches (a bitset over batch order) and the lines that matched."""

    def __init__(self, papers: Sequence[Paper], readings: Sequence[Reading],
                 results: Sequence[tuple[Program, int]], held: dict[int, list[Held]]):
        self.papers = papers
        self._readings = readings
        self._results = results  # (program, bitset of the papers where it holds) per distinct interest
        self._held = held  # subscriber -> the interest lines of theirs that matched some paper
        self._leaf_cache: dict[tuple[int, int, str], tuple[tuple[Hit, ...], float]] = {}

    def __len__(self) -> int:
        """How many (subscriber, paper) pairs match."""
        return sum(self.paper_bits(sid).bit_count() for sid in self._held)

    def subscribers(self) -> list[int]:
        """The subscribers with at least one matching paper."""
        return list(self._held)

    def paper_bits(self, subscriber_id: int) -> int:
        """The papers a subscriber matches, as a bitset: bit i is `papers[i]`."""
        bits = 0
        for _, _, k in self._held.get(subscriber_id, ()):
            bits |= self._results[k][1]
        return bits

    def papers_of(self, subscriber_id: int) -> list[str]:
        """The ids of the papers a subscriber matches, in batch order."""
        return [self.papers[i].id for i in _indices(self.paper_bits(subscriber_id))]

    def interests(self, subscriber_id: int, paper_index: int) -> tuple[str, ...]:
        """The subscriber's interest lines that match `papers[paper_index]`, in line order (empty: no match)."""
        rows = sorted((line, text) for line, text, k in self._held.get(subscriber_id, ())
                      if self._results[k][1] >> paper_index & 1)
        return tuple(dict.fromkeys(text for _, text in rows))

    def pairs(self) -> Iterator[tuple[int, str]]:
        """Every matching (subscriber id, paper id)."""
        for sid in self._held:
            for paper_id in self.papers_of(sid):
                yield sid, paper_id

    def matches(self) -> list[Match]:
        """One Match per (subscriber, paper) with its interests, hits and score, as `ProfileIndex.match` gives."""
        out: list[Match] = []
        rows: dict[int, list[_Row]] = {}
        with _no_cyclic_gc():
            for sid, held in self._held.items():
                seen = several = 0
                for _, _, k in held:
                    where = self._results[k][1]
                    several |= seen & where
                    seen |= where
                for _, text, k in held:
                    shared = rows.get(k)
                    if shared is None:
                        shared = rows[k] = self._rows(k)
                    texts = (text,)
                    if several & self._results[k][1]:
                        out.extend([Match(sid, pid, alone, texts, hits) for i, pid, alone, hits in shared
                                    if not several >> i & 1])
                    else:  # the usual case: every paper of this line matched through it alone
                        out.extend([Match(sid, pid, alone, texts, hits) for _, pid, alone, hits in shared])
                for i in _indices(several):
                    out.append(self._merged(sid, i, held))
        return out

    def _rows(self, k: int) -> list[_Row]:
        """The hits and lone score of one distinct interest in each paper where it holds."""
        program, where = self._results[k]
        out = []
        for i in _indices(where):
            hits, alone = self._hits(program, i)
            out.append((i, self.papers[i].id, alone, hits))
        return out

    def _merged(self, sid: int, i: int, held: list[Held]) -> Match:
        """The Match of a paper that several of one subscriber's lines matched."""
        lines = sorted((line, text, k) for line, text, k in held if self._results[k][1] >> i & 1)
        interests = tuple(dict.fromkeys(text for _, text, _ in lines))
        hits = tuple(sorted({h for _, _, k in lines for h in self._hits(self._results[k][0], i)[0]}, key=hit_order))
        paper = self.papers[i]
        return Match(sid, paper.id, score(hits, len(interests), paper.upvotes), interests, hits)

    def _hits(self, program: Program, i: int) -> tuple[tuple[Hit, ...], float]:
        """The hits of an interest in paper i, and its score as the only interest."""
        leaves = program.positives
        if leaves is None:
            leaves = leaf_hits(program.tree, self._readings[i].found) or []
        if len(leaves) == 1:
            return self._leaf(i, *leaves[0])
        found: set[Hit] = set()
        for atom, text in leaves:
            found.update(self._leaf(i, atom, text)[0])
        hits = tuple(sorted(found, key=hit_order))
        return hits, score(hits, 1, self.papers[i].upvotes)

    def _leaf(self, i: int, atom: int, text: str) -> tuple[tuple[Hit, ...], float]:
        """The hits of one leaf in paper i (in display order), made once, with their lone score."""
        key = (i, atom, text)
        cached = self._leaf_cache.get(key)
        if cached is None:
            reading = self._readings[i]
            hits = tuple(Hit(text, *reading.span(o)) for o in reading.found[atom])  # type: ignore[arg-type]
            cached = self._leaf_cache[key] = (hits, score(hits, 1, self.papers[i].upvotes))
        return cached


def _indices(bits: int) -> list[int]:
    """The positions of the set bits of a bitset, lowest first (cost grows with set bits only)."""
    out = []
    while bits:
        low = bits & -bits
        out.append(low.bit_length() - 1)
        bits ^= low
    return out


@contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while many small acyclic objects are made.

    With a large index alive, every automatic collection rescans it; pausing avoids that
    quadratic-looking slowdown. Reference counting still frees everything as usual.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
