"""The result of matching a batch, compactly: who matches which papers through which interest lines.

Deciding the pairs costs one bitset per distinct interest and one row per (subscriber, interest
that matched something): no object per (subscriber, paper). Hits, which only a digest needs,
are made by `matches()`, once per (interest, paper) and shared by every subscriber holding
that interest; `rows()`, what storing needs, scores the same pairs from the occurrences
alone (a title occurrence, the distinct terms), without a Hit or a character span.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from bot.models import Hit, Match, Paper
from bot.profile.program import Program, evaluate_bits
from bot.profile.reading import Reading
from bot.profile.reference import hit_order
from bot.digest.ranking import score, score_of

Held = tuple[int, str, int]  # interest line number, its text, index of its (program, papers) result
_Leaf = tuple[int, str]  # atom, the term as written
_Key = _Leaf | tuple[_Leaf, ...]  # the leaf, or the leaves, of an interest giving hits in a paper
_Made = tuple[tuple[Hit, ...], float]  # hits, score as the only interest
_Row = tuple[int, _Made]  # paper index, what the interest gives there


class MatchSets:
    """Per subscriber, the batch's papers it matches (a bitset over batch order) and the lines that matched."""

    def __init__(self, papers: Sequence[Paper], readings: Sequence[Reading],
                 bits: list[int], results: Sequence[tuple[Program, int]], held: dict[int, list[Held]]):
        self.papers = papers
        self._readings = readings
        self._bits = bits  # per atom, the papers holding it
        self._results = results  # (program, bitset of the papers where it holds) per distinct interest
        self._held = held  # subscriber -> the interest lines of theirs that matched some paper
        self._rows_made: dict[int, list[_Row]] = {}  # per distinct interest, what it gives in each paper
        # Per paper: hits and lone score by leaf (atom, text) or by tuple of leaves, made once.
        self._made: list[dict[_Key, _Made]] = [{} for _ in papers]
        # What storing needs instead (no Hit made): per interest its leaves by paper, per paper the lone scores.
        self._keys_made: dict[int, list[tuple[int, _Key]]] = {}
        self._lone: list[dict[_Key, float]] = [{} for _ in papers]
        self._scored: dict[int, list[tuple[int, str, float]]] = {}

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
        return [m for batch in self.each_subscriber() for m in batch]

    def rows(self) -> Iterator[tuple[int, str, float, tuple[str, ...]]]:
        """(subscriber, paper id, score, interest lines) of every match, as `matches()` but without hits:
        what storing needs, scored from the occurrences found (no Hit, no span, no Match per pair)."""
        ids = [p.id for p in self.papers]
        scored = self._scored
        for sid, held in self._held.items():
            several, merged = self._several(held)
            for _, text, k in held:
                shared = scored.get(k)
                if shared is None:
                    shared = scored[k] = [(i, ids[i], lone) for i, lone in self._lone_rows(k)]
                texts = (text,)
                if several & self._results[k][1]:
                    yield from [(sid, paper_id, lone, texts) for i, paper_id, lone in shared if i not in merged]
                else:  # the usual case: every paper of this line matched through it alone
                    yield from [(sid, paper_id, lone, texts) for _, paper_id, lone in shared]
            for i in merged:
                yield self._merged_row(sid, i, held)

    def each_subscriber(self) -> Iterator[list[Match]]:
        """The Matches of one subscriber at a time: a broad day's millions of pairs need never be in memory at once."""
        ids = [p.id for p in self.papers]
        return self._each(lambda sid, i, made, texts: Match(sid, ids[i], made[1], texts, made[0]), self._merged)

    def _each(self, one: Callable[[int, int, _Made, tuple[str, ...]], Any],
              merge: Callable[[int, int, list[Held]], Any]) -> Iterator[list[Any]]:
        """Per subscriber, `one(...)` of each pair matched by a single line, `merge(...)` of the others."""
        rows = self._rows_made
        for sid, held in self._held.items():
            out: list[Match] = []
            several, merged = self._several(held)
            for _, text, k in held:
                shared = rows.get(k)
                if shared is None:
                    shared = rows[k] = self._rows(k)
                texts = (text,)
                if several & self._results[k][1]:
                    out.extend([one(sid, i, made, texts) for i, made in shared if i not in merged])
                else:  # the usual case: every paper of this line matched through it alone
                    out.extend([one(sid, i, made, texts) for i, made in shared])
            for i in merged:
                out.append(merge(sid, i, held))
            yield out

    def _several(self, held: list[Held]) -> tuple[int, set[int]]:
        """The papers that more than one of a subscriber's lines match: as a bitset, and as indices."""
        seen = several = 0
        for _, _, k in held:
            where = self._results[k][1]
            several |= seen & where
            seen |= where
        return several, set(_indices(several)) if several else set()

    def hits_of(self, subscriber_id: int, paper_index: int) -> tuple[Hit, ...]:
        """The hits of one subscriber's matching lines in one paper (display order), made for that paper only."""
        found: set[Hit] = set()
        for _, _, k in self._held.get(subscriber_id, ()):
            found.update(self._hits_at(k, paper_index))
        return tuple(sorted(found, key=hit_order))

    def _hits_at(self, k: int, i: int) -> tuple[Hit, ...]:
        """The hits of one distinct interest in paper i, without making them for its other papers."""
        program, where = self._results[k]
        if not where >> i & 1:
            return ()
        if program.positives is not None:
            key = program.positives[0] if len(program.positives) == 1 else program.positives
        else:
            leaves = tuple(leaf for leaf, conditions in program.hit_paths
                           if all(evaluate_bits(item, self._bits) >> i & 1 for item in conditions))
            key = leaves[0] if len(leaves) == 1 else leaves  # type: ignore[assignment]
        return (self._made[i].get(key) or self._make(i, key))[0]

    def _keyed(self, k: int) -> list[tuple[int, _Key]]:
        """(paper index, the leaf or leaves giving hits there) of one distinct interest in each paper where it holds."""
        got = self._keys_made.get(k)
        if got is not None:
            return got
        program, where = self._results[k]
        if program.positives is not None:  # a plain conjunction: all its leaves give hits
            key = program.positives[0] if len(program.positives) == 1 else program.positives
            got = [(i, key) for i in _indices(where)]
        else:
            leaves: dict[int, list[_Leaf]] = {}
            for leaf, conditions in program.hit_paths:
                gives = where
                for item in conditions:
                    gives &= evaluate_bits(item, self._bits)
                for i in _indices(gives):
                    leaves.setdefault(i, []).append(leaf)
            got = []
            for i in _indices(where):
                many = tuple(leaves.get(i, ()))
                got.append((i, many[0] if len(many) == 1 else many))
        self._keys_made[k] = got
        return got

    def _rows(self, k: int) -> list[_Row]:
        """(paper index, (hits, lone score)) of one distinct interest in each paper where it holds."""
        made = self._made
        return [(i, made[i].get(key) or self._make(i, key)) for i, key in self._keyed(k)]

    def _lone_rows(self, k: int) -> list[tuple[int, float]]:
        """(paper index, score as the only interest) of one distinct interest in each paper where it holds."""
        lone = self._lone
        return [(i, lone[i].get(key) or self._lone_score(i, key)) for i, key in self._keyed(k)]

    def _lone_score(self, i: int, key: _Key) -> float:
        """What `_make(i, key)` scores, counted from the occurrences: a title occurrence, the distinct terms."""
        title, terms = self._evidence(i, key)
        made = self._lone[i][key] = score_of(title, 1, len(terms), self.papers[i].upvotes)
        return made

    def _evidence(self, i: int, key: _Key) -> tuple[bool, set[str]]:
        """(whether a hit of these leaves is in the title, their hits' distinct folded terms) in paper i."""
        reading = self._readings[i]
        segments = reading.segments
        title, terms = False, set()
        for atom, text in ((key,) if key and isinstance(key[0], int) else key):  # type: ignore[misc]
            occurrences = reading.found.get(atom)
            if occurrences:
                terms.add(text.casefold())
                title = title or any(segments[seg].part == "title" for seg, _, _ in occurrences)
        return title, terms

    def _merged(self, sid: int, i: int, held: list[Held]) -> Match:
        """The Match of a paper that several of one subscriber's lines matched."""
        lines = sorted((line, text, k) for line, text, k in held if self._results[k][1] >> i & 1)
        interests = tuple(dict.fromkeys(text for _, text, _ in lines))
        hits = tuple(sorted({h for _, _, k in lines for h in self._hits(k, i)}, key=hit_order))
        paper = self.papers[i]
        return Match(sid, paper.id, score(hits, len(interests), paper.upvotes), interests, hits)

    def _merged_row(self, sid: int, i: int, held: list[Held]) -> tuple[int, str, float, tuple[str, ...]]:
        """`_merged` as a stored row: its score counted from the lines' occurrences, without hits."""
        lines = sorted((line, text, k) for line, text, k in held if self._results[k][1] >> i & 1)
        interests = tuple(dict.fromkeys(text for _, text, _ in lines))
        title, terms = False, set()
        for _, _, k in lines:
            keyed = self._keyed(k)
            at = bisect_left(keyed, i, key=lambda row: row[0])  # rows are in paper order
            one_title, one_terms = self._evidence(i, keyed[at][1])
            title = title or one_title
            terms |= one_terms
        paper = self.papers[i]
        return sid, paper.id, score_of(title, len(interests), len(terms), paper.upvotes), interests

    def _hits(self, k: int, i: int) -> tuple[Hit, ...]:
        """The hits of one distinct interest in paper i."""
        rows = self._rows_made.get(k)
        if rows is None:
            rows = self._rows_made[k] = self._rows(k)
        at = bisect_left(rows, (i,))  # rows are in paper order
        return rows[at][1][0] if at < len(rows) and rows[at][0] == i else ()

    def _make(self, i: int, key: _Leaf | tuple[_Leaf, ...]) -> _Made:
        """The hits of one leaf, or of a set of leaves, in paper i (in display order), and their lone score."""
        reading = self._readings[i]
        if key and isinstance(key[0], int):
            atom, text = key  # type: ignore[misc]
            hits = tuple(Hit(text, *reading.span(o)) for o in reading.found[atom])  # type: ignore[arg-type]
        else:
            union: set[Hit] = set()
            for leaf in key:
                union.update((self._made[i].get(leaf) or self._make(i, leaf))[0])  # type: ignore[arg-type]
            hits = tuple(sorted(union, key=hit_order))
        made = self._made[i][key] = (hits, score(hits, 1, self.papers[i].upvotes))
        return made


def _indices(bits: int) -> list[int]:
    """The positions of the set bits of a (non-negative) bitset, lowest first.

    One C-level `find` per set bit on the binary string: cheaper than shifting big ints.
    """
    digits = bin(bits)[:1:-1]  # lowest bit first, without the "0b"
    out = []
    i = digits.find("1")
    while i >= 0:
        out.append(i)
        i = digits.find("1", i + 1)
    return out
