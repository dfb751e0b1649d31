"""All active profiles compiled into one index, and a batch of papers matched through it.

Matching a batch: each paper is tokenised once and its atoms found through the shared atom
table; each atom gets a bitset of the papers holding it; only interests with a trigger atom
present are evaluated, once for the whole batch, on those bitsets; identical interests of
different subscribers are evaluated once. Hits are then gathered only for actual matches.
Cost grows with papers x words and with the matches, never with subscribers x papers.
"""

from __future__ import annotations

import gc
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import AbstractSet

from bot.errors import QueryError
from bot.models import Hit, Match, Paper
from bot.profile.atoms import AtomTable, Span
from bot.profile.document import read_paper
from bot.profile.grammar import parse_profile
from bot.profile.nodes import Node
from bot.profile.program import Program, compile_interest, evaluate_bits, leaf_hits, release
from bot.profile.reference import hit_order
from bot.ranking import score


@dataclass(frozen=True)
class RejectedInterest:
    """An interest line that was not indexed, and why."""

    subscriber_id: int
    line: int
    text: str
    error: QueryError


@dataclass
class _Interest:
    """One distinct interest (same tree) and every (subscriber, line, text) that holds it."""

    program: Program
    holders: list[tuple[int, int, str]]


class ProfileIndex:
    """Every subscriber's interests in one structure, updated per subscriber."""

    def __init__(self) -> None:
        self.atoms = AtomTable()
        self._interests: dict[Node, _Interest] = {}
        self._by_trigger: defaultdict[int, set[Node]] = defaultdict(set)
        self._profiles: dict[int, list[Node]] = {}
        self._rejected: dict[int, list[RejectedInterest]] = {}

    @classmethod
    def build(cls, profiles: Iterable[tuple[int, Sequence[str]]]) -> ProfileIndex:
        """An index of (subscriber id, interest lines) pairs; invalid lines go to `rejected`."""
        index = cls()
        for subscriber_id, interests in profiles:
            index.replace(subscriber_id, interests)
        return index

    @property
    def rejected(self) -> list[RejectedInterest]:
        """The interest lines that were skipped, with their errors."""
        return [r for sid in sorted(self._rejected) for r in self._rejected[sid]]

    def __len__(self) -> int:
        return len(self._profiles)

    def replace(self, subscriber_id: int, interests: Sequence[str]) -> list[RejectedInterest]:
        """Set one subscriber's interests (replacing any); returns the lines that were rejected."""
        self.remove(subscriber_id)
        good, bad = parse_profile(interests)
        rejected = [RejectedInterest(subscriber_id, n, interests[n - 1].strip(), e) for n, e in bad]
        if rejected:
            self._rejected[subscriber_id] = rejected
        if not good:
            return rejected
        nodes = []
        for line, text, node in good:
            entry = self._interests.get(node)
            if entry is None:
                entry = self._interests[node] = _Interest(compile_interest(node, self.atoms), [])
                for atom in entry.program.triggers:
                    self._by_trigger[atom].add(node)
            entry.holders.append((subscriber_id, line, text))
            nodes.append(node)
        self._profiles[subscriber_id] = nodes
        return rejected

    def remove(self, subscriber_id: int) -> None:
        """Forget one subscriber; interests nobody else holds are dropped with their atoms."""
        self._rejected.pop(subscriber_id, None)
        for node in set(self._profiles.pop(subscriber_id, ())):
            entry = self._interests[node]
            entry.holders = [h for h in entry.holders if h[0] != subscriber_id]
            if not entry.holders:
                del self._interests[node]
                for atom in entry.program.triggers:
                    self._by_trigger[atom].discard(node)
                    if not self._by_trigger[atom]:
                        del self._by_trigger[atom]
                release(entry.program, self.atoms)

    def match(self, papers: Sequence[Paper], trending: AbstractSet[str] = frozenset()) -> list[Match]:
        """Every (subscriber, paper) match of a batch, with its interests, hits and score (in no set order)."""
        with _no_cyclic_gc():
            found = [self.atoms.find(read_paper(p, p.id in trending)) for p in papers]
            bits = [0] * len(self.atoms)
            for i, present in enumerate(found):
                bit = 1 << i
                for atom in present:
                    bits[atom] |= bit
            candidates: set[Node] = set()
            for atom, nodes in self._by_trigger.items():
                if bits[atom]:
                    candidates |= nodes
            return _Gatherer(papers, found).run(
                (self._interests[node], _papers_where(self._interests[node].program, bits)) for node in candidates)


def _papers_where(program: Program, bits: list[int]) -> int:
    """The bitset of the batch's papers where a compiled interest holds."""
    if program.positives is None:
        return evaluate_bits(program.tree, bits)
    result = -1
    for atom, _ in program.positives:
        result &= bits[atom]
        if not result:
            return 0
    for atom in program.negatives:
        result &= ~bits[atom]
    return result


class _Gatherer:
    """Turns (interest, papers where it holds) into one Match per (subscriber, paper).

    Hits and score are computed once per (interest, paper) and shared by every holder: the
    common case (one interest of a subscriber matches a paper) costs one Match object.
    """

    def __init__(self, papers: Sequence[Paper], found: list[dict[int, list[Span]]]):
        self.papers = papers
        self.found = found
        self.hit_cache: dict[tuple[int, int, str], tuple[Hit, ...]] = {}

    def leaf(self, i: int, atom: int, text: str) -> tuple[Hit, ...]:
        """The hits of one leaf in paper i, made once (find() lists them in display order)."""
        cached = self.hit_cache.get((i, atom, text))
        if cached is None:
            cached = self.hit_cache[(i, atom, text)] = tuple(
                Hit(text, part, s, e) for part, s, e in self.found[i][atom])  # type: ignore[arg-type]
        return cached

    def hits(self, program: Program, i: int) -> tuple[Hit, ...]:
        leaves = program.positives if program.positives is not None else leaf_hits(program.tree, self.found[i])
        if leaves and len(leaves) == 1:
            return self.leaf(i, *leaves[0])
        out: set[Hit] = set()
        for atom, text in leaves or ():
            out.update(self.leaf(i, atom, text))
        return tuple(sorted(out, key=hit_order))

    def run(self, results: Iterable[tuple[_Interest, int]]) -> list[Match]:
        first: dict[tuple[int, int], Match] = {}
        more: defaultdict[tuple[int, int], list[tuple[int, str, tuple[Hit, ...]]]] = defaultdict(list)
        lines: dict[tuple[int, int], int] = {}
        for entry, where in results:
            while where:
                low = where & -where
                i = low.bit_length() - 1
                where ^= low
                paper = self.papers[i]
                hits = self.hits(entry.program, i)
                alone = score(hits, 1, paper.upvotes)
                for subscriber_id, line, text in entry.holders:
                    key = (subscriber_id, i)
                    if key not in first:
                        first[key] = Match(subscriber_id, paper.id, alone, (text,), hits)
                        lines[key] = line
                    else:
                        more[key].append((line, text, hits))
        for key, extra in more.items():  # a subscriber matched the paper through several interests
            m = first[key]
            rows = sorted([(lines[key], m.interests[0], m.hits), *extra], key=lambda r: r[0])
            interests = tuple(dict.fromkeys(text for _, text, _ in rows))
            hits = tuple(sorted({h for _, _, hs in rows for h in hs}, key=hit_order))
            first[key] = Match(m.subscriber_id, m.paper_id, score(hits, len(interests), self.papers[key[1]].upvotes),
                               interests, hits)
        return list(first.values())


@contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while a batch allocates many small acyclic objects.

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
