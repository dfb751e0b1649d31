"""All active profiles compiled into one index, and a batch of papers matched through it.

Matching a batch: each paper is read once and its atoms found through the shared atom
table; each atom gets a bitset of the papers holding it; only interests with a trigger atom
present are evaluated, once for the whole batch, on those bitsets; identical interests of
different subscribers are evaluated once. The result (MatchSets) says who matches what;
hits and scores are made only when Match objects are asked for. Cost grows with papers x
words and with the matches, never with subscribers x papers.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import AbstractSet

from bot.errors import QueryError
from bot.models import Match, Paper
from bot.profile.atoms import AtomTable
from bot.profile.grammar import parse_profile
from bot.profile.matchsets import Held, MatchSets
from bot.profile.nodes import Node
from bot.profile.program import Program, compile_interest, evaluate_bits, release
from bot.profile.reading import Reading, Segment


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

    key: int  # small and cheap to hash, unlike the tree
    program: Program
    holders: list[tuple[int, int, str]]


class ProfileIndex:
    """Every subscriber's interests in one structure, updated per subscriber."""

    def __init__(self) -> None:
        self.atoms = AtomTable()
        self._interests: dict[Node, _Interest] = {}
        self._by_key: dict[int, _Interest] = {}
        self._by_trigger: defaultdict[int, set[int]] = defaultdict(set)
        self._next_key = 0
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
                entry = _Interest(self._next_key, compile_interest(node, self.atoms), [])
                self._next_key += 1
                self._interests[node] = self._by_key[entry.key] = entry
                for atom in entry.program.triggers:
                    self._by_trigger[atom].add(entry.key)
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
                del self._by_key[entry.key]
                for atom in entry.program.triggers:
                    self._by_trigger[atom].discard(entry.key)
                    if not self._by_trigger[atom]:
                        del self._by_trigger[atom]
                release(entry.program, self.atoms)

    def liked_papers(self) -> set[str]:
        """The paper ids the index's `like:` interests name (what `similar` must cover)."""
        return set(self.atoms.likes)

    def match(self, papers: Sequence[Paper], trending: AbstractSet[str] = frozenset(),
              similar: Mapping[str, AbstractSet[str]] | None = None) -> list[Match]:
        """Every (subscriber, paper) match of a batch, with its interests, hits and score (in no set order)."""
        return self.match_sets(papers, trending, similar=similar).matches()

    def match_sets(self, papers: Sequence[Paper], trending: AbstractSet[str] = frozenset(),
                   segments: Sequence[list[Segment]] | None = None,
                   similar: Mapping[str, AbstractSet[str]] | None = None) -> MatchSets:
        """Who matches which paper of a batch through which lines; hits and scores are left to `matches()`.

        `segments[i]` (bot.profile.reading.paper_segments of papers[i]) spares reading a paper's words again.
        `similar[PAPER]`: the batch's papers alike to PAPER (bot/recommend computes it for `liked_papers()`).
        """
        likes: dict[str, set[str]] = {}
        for liked, alike in (similar or {}).items():
            if liked in self.atoms.likes:
                for paper_id in alike:
                    likes.setdefault(paper_id, set()).add(liked)
        readings = [Reading(p, p.id in trending, self.atoms, segments[i] if segments else None,
                            likes.get(p.id, frozenset())) for i, p in enumerate(papers)]
        bits = [0] * len(self.atoms)
        for i, reading in enumerate(readings):
            bit = 1 << i
            for atom in reading.found:
                bits[atom] |= bit
        candidates: set[int] = set()
        for atom, keys in self._by_trigger.items():
            if bits[atom]:
                candidates |= keys
        results: list[tuple[Program, int]] = []
        held: defaultdict[int, list[Held]] = defaultdict(list)
        for key in candidates:
            entry = self._by_key[key]
            where = _papers_where(entry.program, bits)
            if where:
                k = len(results)
                results.append((entry.program, where))
                for subscriber_id, line, text in entry.holders:
                    held[subscriber_id].append((line, text, k))
        return MatchSets(papers, readings, bits, results, dict(held))


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
