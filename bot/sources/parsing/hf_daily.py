"""Parse Hugging Face daily papers (JSON array of {"paper": {...}, ...}) into Papers (pure)."""

from __future__ import annotations

import json
from typing import Any

from bot.ids import find_arxiv_id
from bot.models import Paper, ParseResult
from bot.sources.parsing.common import arxiv_links, parse_iso_datetime
from bot.text import clean_text

__all__ = ["parse_hf_daily"]

HF_PAPER_URL = "https://huggingface.co/papers/"


def _items(body: bytes) -> tuple[list[Any], str | None]:
    """Decode the JSON array item by item, so that a truncated body keeps its complete items."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return [], f"the Hugging Face response is not UTF-8 JSON ({exc.reason} at byte {exc.start})"
    stripped = text.strip()
    if not stripped:
        return [], "the Hugging Face response is empty; expected a JSON array"
    if stripped[0] == "{":
        try:
            value = json.loads(stripped)
        except json.JSONDecodeError as exc:
            return [], f"the Hugging Face response is not valid JSON ({exc.msg} at line {exc.lineno})"
        if isinstance(value, dict) and isinstance(value.get("paper") or value.get("id"), (dict, str)):
            return [value], None  # one paper (the /api/papers/ID shape)
        return [], "the Hugging Face response is a JSON object, not the list of daily papers"
    if stripped[0] != "[":
        return [], "the Hugging Face response is not JSON (an HTML page or an error?)"
    decoder = json.JSONDecoder()
    items: list[Any] = []
    pos = 1
    while True:
        while pos < len(stripped) and stripped[pos] in " \t\r\n,":
            pos += 1
        if pos >= len(stripped):
            return items, "the Hugging Face response is cut off before the closing ]"
        if stripped[pos] == "]":
            return items, None
        try:
            item, pos = decoder.raw_decode(stripped, pos)
        except json.JSONDecodeError as exc:
            return items, f"the Hugging Face response is malformed or cut off after {len(items)} items ({exc.msg})"
        items.append(item)


def _paper(item: Any) -> Paper | None:
    """Build one Paper from a daily-papers item; None when it lacks an id or a title."""
    if not isinstance(item, dict):
        return None
    paper = item.get("paper") if isinstance(item.get("paper"), dict) else item
    raw_id = str(paper.get("id") or "").strip()
    title = clean_text(paper.get("title") or item.get("title"), html_markup=False)
    if not raw_id or not title:
        return None
    arxiv = find_arxiv_id(raw_id)
    links: dict[str, str] = {}
    if arxiv is not None:
        pid, version = arxiv
        links.update(arxiv_links(pid))
        links["hf"] = HF_PAPER_URL + pid.removeprefix("arxiv:")
    else:
        # huggingface.co/papers/ pages exist only for arXiv ids: no link rather than a dead one.
        pid, version = f"hf:{raw_id}", None
    for key, kind in (("githubRepo", "code"), ("projectPage", "project")):
        value = paper.get(key) or item.get(key)
        if isinstance(value, str) and value.startswith(("http://", "https://")):
            links[kind] = value
    authors = tuple(
        clean_text(a.get("name"), html_markup=False)
        for a in paper.get("authors") or ()
        if isinstance(a, dict) and a.get("name")
    )
    upvotes = paper.get("upvotes", item.get("upvotes"))
    thumbnail = item.get("thumbnail") or paper.get("thumbnail")
    return Paper(
        id=pid,
        title=title,
        abstract=clean_text(paper.get("summary") or item.get("summary"), html_markup=False),
        authors=tuple(a for a in authors if a),
        published=parse_iso_datetime(paper.get("publishedAt") or item.get("publishedAt")),
        version=version,
        links=links,
        upvotes=int(upvotes) if isinstance(upvotes, (int, float)) and not isinstance(upvotes, bool) else None,
        thumbnail=thumbnail if isinstance(thumbnail, str) and thumbnail else None,
    )


def parse_hf_daily(body: bytes) -> ParseResult:
    """Parse a daily-papers body; malformed or cut-off JSON keeps the items that decoded."""
    items, error = _items(body)
    papers: list[Paper] = []
    skipped = 0
    for item in items:
        paper = _paper(item)
        if paper is None:
            skipped += 1
        else:
            papers.append(paper)
    if skipped and error is None:
        error = f"{skipped} Hugging Face item(s) had no paper id or title and were skipped"
    return ParseResult(papers=papers, error=error, complete=error is None)
