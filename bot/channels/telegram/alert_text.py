"""Telegram alerts as HTML parse-mode text (pure): one paper, or many grouped, split under Telegram's limit.

Every string from a paper is escaped; each paper's block is bounded (title, authors,
snippet cut), so a block always fits in one message and a message is split only at
paper boundaries, never inside a tag or an entity. Length is counted as Telegram
counts it: UTF-16 code units of the text after entity parsing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from bot.channels.telegram.message import Button, Part
from bot.channels.telegram.vote_keys import vote_data
from bot.digest.highlight import highlight_spans, snippet, spans_of, why
from bot.models import Match, Paper

MAX_TEXT = 4096  # Telegram's limit on a message's text (UTF-16 units after entity parsing)
HEADING_MAX = 100
ROOM_FOR_HEADING = 2 * HEADING_MAX + 40  # kept free in each part for its heading ("12 new papers (2/3)")
MAX_PAPERS_PER_PART = 10  # 5 buttons each (3 links, 2 votes): 50 buttons, under Telegram's 100 per keyboard
TITLE_MAX = 300
AUTHOR_MAX = 80
AUTHORS_SHOWN = 3
CATEGORIES_SHOWN = 6
SNIPPET_WIDTH = 220
BUTTON_TEXT_MAX = 64
VOTE_LABELS = (("+", "👍 More like this"), ("-", "👎 Not for me"))
_ENTITY = re.compile(r"&(lt|gt|amp|quot);")
_TAG = re.compile(r"<[^>]*>")
_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


def escape(text: str) -> str:
    """Text for Telegram HTML: only &, < and > need escaping outside attributes."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def escape_attribute(text: str) -> str:
    return escape(text).replace('"', "&quot;")


def visible_length(html: str) -> int:
    """The length Telegram counts for HTML we wrote: UTF-16 units of the text with tags and entities parsed."""
    text = _ENTITY.sub(lambda m: _ENTITIES[m.group(1)], _TAG.sub("", html))
    return len(text.encode("utf-16-le")) // 2


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "\u2026"


def _bold(segments: list[tuple[str, bool]]) -> str:
    return "".join(f"<b>{escape(s)}</b>" if hit else escape(s) for s, hit in segments)


def _link(url: str | None) -> str | None:
    return url if url and url.startswith(("https://", "http://")) else None


def paper_block(paper: Paper, match: Match | None, number: int | None = None) -> str:
    """One paper: its title (linked to the abstract page, matched words in bold), authors, categories, why it
    matched and a snippet of the abstract with the matched words in bold."""
    hits = match.hits if match else ()
    title = _cut(paper.title or paper.id, TITLE_MAX)
    title_html = _bold(highlight_spans(title, spans_of(hits, "title")))
    abs_url = _link(paper.links.get("abs"))
    if abs_url:
        title_html = f'<a href="{escape_attribute(abs_url)}">{title_html}</a>'
    lines = [(f"{number}. " if number is not None else "") + title_html]
    if paper.authors:
        shown = ", ".join(_cut(a, AUTHOR_MAX) for a in paper.authors[:AUTHORS_SHOWN])
        lines.append(escape(shown + (" et al." if len(paper.authors) > AUTHORS_SHOWN else "")))
    if paper.categories:
        lines.append("<i>" + escape(" · ".join(_cut(c, 30) for c in paper.categories[:CATEGORIES_SHOWN])) + "</i>")
    reason = why(match) if match else ""
    if reason:
        lines.append(escape(_cut(reason[0].upper() + reason[1:], 300)))
    abstract_spans = spans_of(hits, "abstract")
    if paper.abstract and abstract_spans:
        lines.append(_bold(snippet(paper.abstract, abstract_spans, SNIPPET_WIDTH)))
    return "\n".join(lines)


def paper_buttons(paper: Paper, number: int | None = None) -> tuple[Button, ...]:
    """Abstract, PDF and Hugging Face buttons, those that are known (numbered in a grouped message)."""
    prefix = f"{number} · " if number is not None else ""
    found = []
    for kind, label in (("abs", "Abstract"), ("pdf", "PDF"), ("hf", "Hugging Face")):
        url = _link(paper.links.get(kind))
        if url:
            found.append(Button(_cut(prefix + label, BUTTON_TEXT_MAX), url))
    return tuple(found)


def vote_buttons(paper: Paper, number: int | None = None) -> tuple[Button, ...]:
    """"More like this" and "Not for me": the press records the vote at once (numbered in a grouped message)."""
    prefix = f"{number} · " if number is not None else ""
    return tuple(Button(prefix + label, callback=vote_data(sign, paper.id)) for sign, label in VOTE_LABELS)


def paper_keyboard(paper: Paper, number: int | None = None) -> tuple[tuple[Button, ...], ...]:
    """A paper's rows of buttons: its links (those known), then its vote buttons."""
    links = paper_buttons(paper, number)
    return ((links,) if links else ()) + (vote_buttons(paper, number),)


def alert_parts(items: Sequence[tuple[Paper, Match | None]], *, heading: str | None = None) -> list[Part]:
    """One message for one paper; for several, numbered blocks under a heading, split at paper boundaries."""
    if not items:
        return []
    if len(items) == 1 and heading is None:
        paper, match = items[0]
        return [Part(paper_block(paper, match), paper_keyboard(paper), (paper.id,))]
    blocks = [(paper, paper_block(paper, match, n), paper_keyboard(paper, n))
              for n, (paper, match) in enumerate(items, 1)]
    groups: list[list[tuple[Paper, str, tuple[tuple[Button, ...], ...]]]] = [[]]
    used = 0
    for block in blocks:
        size = visible_length(block[1]) + 2
        if groups[-1] and (used + size > MAX_TEXT - ROOM_FOR_HEADING or len(groups[-1]) >= MAX_PAPERS_PER_PART):
            groups.append([])
            used = 0
        groups[-1].append(block)
        used += size
    title = _cut(heading or f"{len(items)} new papers for you", HEADING_MAX)
    parts = []
    for k, group in enumerate(groups, 1):
        head = escape(title) + (f" ({k}/{len(groups)})" if len(groups) > 1 else "")
        html = f"<b>{head}</b>\n\n" + "\n\n".join(text for _, text, _ in group)
        parts.append(Part(html, tuple(row for _, _, rows in group for row in rows), tuple(p.id for p, _, _ in group)))
    return parts
