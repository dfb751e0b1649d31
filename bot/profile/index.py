"""All active profiles compiled into one index, and a batch of papers matched through it.

Matching a batch: each paper is tokenised once and its atoms found through the shared atom
table; each atom gets a bitset of the papers holding it; only interests with a trigger atom
present are evaluated, once for the whole batch, on those bitsets; identical interests of
different subscribers are evaluated once. Hits are then gathered only for actual matches.
Cost grows with papers x words and with the matches, never with subscribers x papers.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import AbstractSet, Iterable, Sequence

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
        """Every (subscriber, paper) match of a batch, with its interests, hits and score."""
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
        # (subscriber, paper index) -> [(line, text, [(atom, text)])]
        matched: defaultdict[tuple[int, int], list[tuple[int, str, list[tuple[int, str]]]]] = defaultdict(list)
        for node in candidates:
            entry = self._interests[node]
            program = entry.program
            if program.positives is not None:
                result = -1
                for atom, _ in program.positives:
                    result &= bits[atom]
                for atom in program.negatives:
                    result &= ~bits[atom]
            else:
                result = evaluate_bits(program.tree, bits)
            while result:
                low = result & -result
                i = low.bit_length() - 1
                result ^= low
                leaves = list(program.positives) if program.positives is not None else leaf_hits(program.tree, found[i])
                for subscriber_id, line, text in entry.holders:
                    matched[(subscriber_id, i)].append((line, text, leaves or []))
        return self._matches(matched, papers, found)

    @staticmethod
    def _matches(matched: dict[tuple[int, int], list[tuple[int, str, list[tuple[int, str]]]]],
                 papers: Sequence[Paper], found: list[dict[int, list[Span]]]) -> list[Match]:
        """Turn gathered leaves into Match objects with Hit spans and a score."""
        hit_cache: dict[tuple[int, int, str], list[Hit]] = {}
        out: list[Match] = []
        for (subscriber_id, i), rows in matched.items():
            rows.sort(key=lambda r: r[0])
            hits: set[Hit] = set()
            for _, _, leaves in rows:
                for atom, text in leaves:
                    cached = hit_cache.get((i, atom, text))
                    if cached is None:
                        cached = hit_cache[(i, atom, text)] = [Hit(text, p, s, e) for p, s, e in found[i][atom]]  # type: ignore[arg-type]
                    hits.update(cached)
            ordered = tuple(sorted(hits, key=hit_order))
            interests = tuple(dict.fromkeys(text for _, text, _ in rows))
            paper = papers[i]
            out.append(Match(subscriber_id, paper.id, score(ordered, len(interests), paper.upvotes), interests, ordered))
        out.sort(key=lambda m: (m.subscriber_id, -m.score, m.paper_id))
        return out
