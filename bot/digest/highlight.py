"""Highlighting from hits: a text cut into (segment, matched?) pieces, a snippet, and why it matched.

Pure and format-free: the email, Telegram and terminal renderers turn segments into markup.
Spans of `authors` / `categories` hits index `", ".join(paper.authors)` / `", ".join(paper.categories)`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from bot.models import Hit, Match

Segments = list[tuple[str, bool]]
ELLIPSIS = "\u2026"
_PLACES = {"title": "the title", "abstract": "the abstract", "authors": "the authors", "categories": "the categories"}


def spans_of(hits: Iterable[Hit], field: str) -> list[tuple[int, int]]:
    """The (start, end) spans of the hits in one field."""
    return [(h.start, h.end) for h in hits if h.field == field and h.end > h.start]


def merged_spans(hits: Iterable[Hit], field: str, length: int) -> tuple[tuple[int, int], ...]:
    """The spans of the hits in one field of `length` characters, sorted, overlapping ones joined."""
    return tuple(_merge(spans_of(hits, field), length))


def _merge(spans: Iterable[tuple[int, int]], length: int) -> list[tuple[int, int]]:
    """Spans clipped to the text, sorted, with overlapping or touching ones joined."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted((max(0, s), min(length, e)) for s, e in spans):
        if end <= start:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def highlight_spans(text: str, spans: Iterable[tuple[int, int]]) -> Segments:
    """The whole text as consecutive (segment, matched) pieces; concatenated they give `text` back."""
    out: Segments = []
    pos = 0
    for start, end in _merge(spans, len(text)):
        if start > pos:
            out.append((text[pos:start], False))
        out.append((text[start:end], True))
        pos = end
    if pos < len(text):
        out.append((text[pos:], False))
    return out


def snippet(text: str, spans: Sequence[tuple[int, int]], width: int = 300) -> Segments:
    """About `width` characters around the first hits, cut at spaces, with "…" where text was left out."""
    if len(text) <= width:
        return highlight_spans(text, spans)
    merged = _merge(spans, len(text))
    first = merged[0][0] if merged else 0
    start = max(0, first - width // 4)
    if start > 0:  # begin on a word: move to just after the previous space
        space = text.rfind(" ", 0, start + 1)
        start = space + 1 if space >= 0 and first - space < width // 2 else start
    end = min(len(text), start + width)
    if end < len(text):  # end on a word, unless that would cut the first hit
        space = text.rfind(" ", start, end)
        if space > max(first, start):
            end = space
    inside = [(max(s, start) - start, min(e, end) - start) for s, e in merged if s < end and e > start]
    out = highlight_spans(text[start:end], inside)
    if start > 0:
        out.insert(0, (ELLIPSIS, False))
    if end < len(text):
        out.append((ELLIPSIS, False))
    return out


def why(match: Match, titles: Mapping[str, str] | None = None) -> str:
    """One line on why a paper matched, e.g. `matched "reward model" in the title, RLHF in the abstract`.

    A `like:PAPER` hit reads `like “Title”` with the liked paper's title from `titles` (by id),
    else `like PAPER`.
    """
    places: dict[str, list[str]] = {}
    trending = False
    liked: list[str] = []
    for hit in match.hits:
        if hit.field == "trending":
            trending = True
            continue
        if hit.field == "like":
            title = (titles or {}).get(hit.term)
            said = f"like “{title}”" if title else f"like {hit.term}"
            if said not in liked:
                liked.append(said)
            continue
        fields = places.setdefault(hit.term, [])
        if hit.field not in fields:
            fields.append(hit.field)
    grouped: dict[str, list[str]] = {}  # terms found in the same places are named together
    for term, fields in places.items():
        named = [_PLACES[f] for f in sorted(fields, key=list(_PLACES).index)]
        where = named[0] if len(named) == 1 else ", ".join(named[:-1]) + " and " + named[-1].removeprefix("the ")
        grouped.setdefault(where, []).append(f'"{term}"' if " " in term else term)
    parts = [f"{_and(terms)} in {where}" for where, terms in grouped.items()]
    said = ["matched " + ", ".join(parts)] if parts else []
    said += liked + (["trending today"] if trending else [])
    if len(said) > 1 and trending:
        said[-1] = "and trending today"
    return ", ".join(said)


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
