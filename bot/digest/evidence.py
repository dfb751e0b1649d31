"""Why a stored match matched, found again at render time: its hits, for the papers a message shows.

Matches are stored compactly (who, which paper, score, which interest lines). A message
needs the hits of the papers it shows (highlights, snippets, "matched *x* in the title"):
the distinct interest lines of a whole batch of messages go into one small index, the
batch's papers are read through it once, and each (line, paper) gets its hits once, as
the matcher makes them. A paper's words are read once per process (`_segments`), not
once per batch.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import replace
from threading import Lock

from bot.models import Hit, Match, Paper
from bot.profile import ProfileIndex
from bot.profile.matchsets import MatchSets
from bot.profile.reading import Segment, paper_segments
from bot.profile.reference import hit_order

_CACHED_PAPERS = 4096  # a day's papers, and then some
_segments: OrderedDict[tuple[str, str, str, tuple[str, ...]], list[Segment]] = OrderedDict()
_lock = Lock()
_STATES = ((True, True), (True, False), (False, True), (False, False))  # (trending, alike), most hits first


def with_hits(matches: Iterable[Match], papers: Mapping[str, Paper]) -> list[Match]:
    """The matches, each with its hits (rows stored with hits, or without a paper, stay as they are).

    These pairs matched already, and `is:trending` or `like:PAPER` may no longer hold when the
    message is written (trending moves; which papers are alike is not computed here): each line
    is evaluated as if its paper were trending and alike to every liked paper, and a line that
    then gives no hit (`-is:trending ...`, `-like:...`) again with either or both assumed false.
    """
    matches = list(matches)
    need = [m for m in matches if not m.hits and m.interests and m.paper_id in papers]
    if not need:
        return matches
    lines = {text: n for n, text in enumerate(dict.fromkeys(t for m in need for t in m.interests))}
    index = ProfileIndex.build((n, [text]) for text, n in lines.items())
    batch = list({m.paper_id: papers[m.paper_id] for m in need}.values())
    at = {paper.id: i for i, paper in enumerate(batch)}
    segments = [_read(p) for p in batch]
    everyone = frozenset(at)
    alike = {liked: everyone for liked in index.liked_papers()}
    states: dict[tuple[bool, bool], MatchSets] = {}  # (trending, alike) -> the batch read so: made when needed
    found: dict[tuple[int, str], tuple[Hit, ...]] = {}

    def line_hits(n: int, paper_id: str) -> tuple[Hit, ...]:
        got: tuple[Hit, ...] = ()
        for state in _STATES if alike else _STATES[1::2]:
            if state not in states:
                states[state] = index.match_sets(batch, everyone if state[0] else frozenset(), segments,
                                                 alike if state[1] else None)
            got = states[state].hits_of(n, at[paper_id])
            if got:
                break
        return got

    def hits(match: Match) -> tuple[Hit, ...]:
        union: set[Hit] = set()
        for text in match.interests:
            key = (lines[text], match.paper_id)
            if key not in found:
                found[key] = line_hits(*key)
            union.update(found[key])
        return tuple(sorted(union, key=hit_order))

    filled = {id(m): replace(m, hits=hits(m)) for m in need}
    return [filled.get(id(m), m) for m in matches]


def _read(paper: Paper) -> list[Segment]:
    """A paper's segments, read once per process while the paper's text stays the same."""
    key = (paper.id, paper.title, paper.abstract, paper.authors)
    with _lock:
        cached = _segments.get(key)
        if cached is not None:
            _segments.move_to_end(key)
            return cached
    segments = paper_segments(paper)
    with _lock:
        _segments[key] = segments
        while len(_segments) > _CACHED_PAPERS:
            _segments.popitem(last=False)
    return segments
