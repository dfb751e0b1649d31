"""The shared table of distinct leaves ("atoms") of all profiles, and finding them in a paper.

Every distinct (parts, words, prefix?) or category or `is:trending` or `like:PAPER` is ONE atom however many
subscribers use it. Word atoms are filed under the plural keys of their first word, per part;
a paper is read once and each of its words looks up the atoms that may start there (a per-word
cache makes every word after its first sighting cost one dict lookup; phrases are then
followed through their second word's keys). Atoms are reference-counted so that one
subscriber's profile can be replaced cheaply.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Hashable

from bot.profile.words import keys

AtomKey = Hashable
Occurrence = tuple[int, int, int]  # segment number, first word, last word
# Per word: (one-word atoms starting there, {second word key: ((atom, keys of its further words), ...)}),
# or () when no atom starts at that word.
_Entry = tuple[tuple[int, ...], dict[str, tuple[tuple[int, tuple[frozenset[str], ...]], ...]]] | tuple[()]


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
        self.likes: dict[str, int] = {}  # `like:` atoms by paper id
        self._cache: dict[str, dict[str, _Entry]] = defaultdict(dict)

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
        if kind == "like":
            if add:
                self.likes[key[1]] = atom  # type: ignore[index]
            else:
                self.likes.pop(key[1], None)  # type: ignore[index]
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

    def _lookup(self, part: str, word: str) -> _Entry:
        """Atoms of `part` that may start at a word (by plural keys, and by prefix), split by length."""
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
        singles = tuple(atom for atom in sorted(found) if not self._rest[atom])
        follow: dict[str, list[tuple[int, tuple[frozenset[str], ...]]]] = {}
        for atom in sorted(found):
            rest = self._rest[atom]
            if rest:
                for k in rest[0]:
                    follow.setdefault(k, []).append((atom, rest[1:]))
        out = (singles, {k: tuple(v) for k, v in follow.items()}) if found else ()
        self._cache[part][word] = out
        return out

    def scan(self, part: str, words: list[str], seg: int, found: dict[int, list[Occurrence]]) -> None:
        """Add to `found` every atom of `part` occurring in a segment's words: (seg, first word, last word).

        Most words start no atom: one cached dict lookup each. A phrase is looked up by its
        second word's keys, so only phrases actually continuing here are checked further.
        """
        cache = self._cache[part]
        n = len(words)
        for i, word in enumerate(words):
            entry = cache.get(word)
            if entry is None:
                entry = self._lookup(part, word)
            if not entry:
                continue
            singles, follow = entry
            for atom in singles:
                found.setdefault(atom, []).append((seg, i, i))
            if not follow or i + 1 == n:
                continue
            for k in keys(words[i + 1]):
                for atom, tail in follow.get(k, ()):
                    last = i + 1 + len(tail)
                    if tail and (last >= n or any(r.isdisjoint(keys(words[i + 2 + j])) for j, r in enumerate(tail))):
                        continue
                    occurrences = found.setdefault(atom, [])
                    if not occurrences or occurrences[-1] != (seg, i, last):  # reached by two plural keys
                        occurrences.append((seg, i, last))

    def categories(self, category: str) -> set[int]:
        """The category atoms (exact or prefix) a paper's casefolded category holds."""
        atoms = set(self._cats.get(category, ()))
        for stem, ids in self._cat_prefix.items():
            if category.startswith(stem):
                atoms |= ids
        return atoms

    def has_categories(self) -> bool:
        """Whether any atom looks at categories (else a paper's categories need no reading)."""
        return any(self._cats.values()) or any(self._cat_prefix.values())


def _toggle(bucket: set[int], atom: int, add: bool) -> None:
    if add:
        bucket.add(atom)
    else:
        bucket.discard(atom)
