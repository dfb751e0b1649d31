"""The shared table of distinct leaves ("atoms") of all profiles, and finding them in a paper.

Every distinct (parts, words, prefix?) or category or `is:trending` is ONE atom however many
subscribers use it. Word atoms are filed under the plural keys of their first word, per part;
a paper is read once and each of its words looks up the atoms that may start there (a per-word
cache makes repeated words cost one dict lookup). Atoms are reference-counted so that one
subscriber's profile can be replaced cheaply.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Hashable

from bot.profile.document import Document
from bot.profile.words import keys

AtomKey = Hashable
Span = tuple[str, int, int]  # part, start, end
_Lookup = tuple[tuple[int, tuple[frozenset[str], ...]], ...]  # (atom id, keys of the other words)


class AtomTable:
    """Distinct atoms with reference counts, and the lookups that find them in a Document."""

    def __init__(self) -> None:
        self.ids: dict[AtomKey, int] = {}
        self.keys: list[AtomKey | None] = []
        self.refs: list[int] = []
        self._free: list[int] = []
        self._first: dict[str, defaultdict[str, set[int]]] = defaultdict(lambda: defaultdict(set))
        self._prefix: dict[str, defaultdict[str, set[int]]] = defaultdict(lambda: defaultdict(set))
        self._prefix_lens: dict[str, Counter[int]] = defaultdict(Counter)
        self._rest: dict[int, tuple[frozenset[str], ...]] = {}
        self._cats: defaultdict[str, set[int]] = defaultdict(set)
        self._cat_prefix: defaultdict[str, set[int]] = defaultdict(set)
        self.trending: int | None = None
        self._cache: dict[str, dict[str, _Lookup]] = defaultdict(dict)

    def __len__(self) -> int:
        return len(self.keys)

    def acquire(self, key: AtomKey) -> int:
        """The id of an atom, filing it on first use; each call holds one reference."""
        atom = self.ids.get(key)
        if atom is None:
            atom = self._free.pop() if self._free else len(self.keys)
            if atom == len(self.keys):
                self.keys.append(key)
                self.refs.append(0)
            else:
                self.keys[atom] = key
            self.ids[key] = atom
            self._file(atom, key, add=True)
        self.refs[atom] += 1
        return atom

    def release(self, atom: int) -> None:
        """Drop one reference; an atom nobody uses is unfiled and its id reused."""
        self.refs[atom] -= 1
        if self.refs[atom] == 0:
            key = self.keys[atom]
            self._file(atom, key, add=False)
            del self.ids[key]
            self.keys[atom] = None
            self._free.append(atom)

    def _file(self, atom: int, key: AtomKey, add: bool) -> None:
        kind = key[0]  # type: ignore[index]
        if kind == "trending":
            self.trending = atom if add else None
            return
        if kind == "cat":
            _, value, is_prefix = key  # type: ignore[misc]
            _toggle((self._cat_prefix if is_prefix else self._cats)[value], atom, add)
            return
        _, parts, words, is_prefix = key  # type: ignore[misc]
        self._cache.clear()
        for part in parts:
            if is_prefix:
                _toggle(self._prefix[part][words[0]], atom, add)
                self._prefix_lens[part][len(words[0])] += 1 if add else -1
                self._prefix_lens[part] += Counter()  # drops lengths no longer used
            else:
                for k in keys(words[0]):
                    _toggle(self._first[part][k], atom, add)
        if add:
            self._rest[atom] = tuple(frozenset(keys(w)) for w in words[1:]) if not is_prefix else ()
        else:
            self._rest.pop(atom, None)

    def _lookup(self, part: str, word: str) -> _Lookup:
        """Atoms of `part` that may start at a word: by plural keys, and by prefix."""
        found: set[int] = set()
        first = self._first.get(part)
        if first:
            for k in keys(word):
                found |= first.get(k, set())
        prefixes = self._prefix.get(part)
        if prefixes:
            for n in self._prefix_lens[part]:
                if n <= len(word):
                    found |= prefixes.get(word[:n], set())
        out = tuple((atom, self._rest[atom]) for atom in sorted(found))
        self._cache[part][word] = out
        return out

    def find(self, doc: Document) -> dict[int, list[Span]]:
        """Every atom present in a paper, with the spans of its occurrences."""
        found: dict[int, list[Span]] = {}
        for part, segments in doc.segments.items():
            cache = self._cache[part]
            for seg in segments:
                n = len(seg)
                for i, (word, start, end) in enumerate(seg):
                    entries = cache.get(word)
                    if entries is None:
                        entries = self._lookup(part, word)
                    for atom, rest in entries:
                        last = i + len(rest)
                        if rest and (last >= n or not all(
                                not r.isdisjoint(keys(seg[i + 1 + j][0])) for j, r in enumerate(rest))):
                            continue
                        found.setdefault(atom, []).append((part, start, seg[last][2] if rest else end))
        if self._cats or self._cat_prefix:
            for cat, start, end in doc.categories:
                atoms = set(self._cats.get(cat, ()))
                for stem, ids in self._cat_prefix.items():
                    if cat.startswith(stem):
                        atoms |= ids
                for atom in atoms:
                    found.setdefault(atom, []).append(("categories", start, end))
        if doc.trending and self.trending is not None:
            found[self.trending] = [("trending", 0, 0)]
        return found


def _toggle(bucket: set[int], atom: int, add: bool) -> None:
    if add:
        bucket.add(atom)
    else:
        bucket.discard(atom)
