"""Helpers shared by the feed parsers: dates, arXiv links, feedparser results (pure)."""

from __future__ import annotations

import calendar
import re
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from bot.models import Paper, ParseResult

__all__ = [
    "parse_iso_datetime", "struct_to_utc", "arxiv_links", "entry_date", "bozo_sentence",
    "looks_like_html", "feed_outcome", "complete_entries", "papers_from_feed",
]

ARXIV_ABS = "https://arxiv.org/abs/"
ARXIV_PDF = "https://arxiv.org/pdf/"


def parse_iso_datetime(value: Any) -> datetime | None:
    """Return an ISO 8601 string as an aware UTC datetime; None when absent or unreadable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def struct_to_utc(value: time.struct_time | None) -> datetime | None:
    """Return feedparser's UTC struct_time as an aware UTC datetime."""
    if value is None:
        return None
    return datetime.fromtimestamp(calendar.timegm(value), tz=timezone.utc)


def entry_date(entry: Any, *names: str) -> datetime | None:
    """Return the first of feedparser's `<name>_parsed` dates that an entry has, in UTC."""
    for name in names:
        parsed = struct_to_utc(entry.get(f"{name}_parsed"))
        if parsed is not None:
            return parsed
    return None


def arxiv_links(paper_id: str, version: int | None = None) -> dict[str, str]:
    """Return the abs and pdf links of an `arxiv:ID` (unversioned unless a version is given)."""
    bare = paper_id.removeprefix("arxiv:")
    suffix = f"v{version}" if version else ""
    return {"abs": f"{ARXIV_ABS}{bare}{suffix}", "pdf": f"{ARXIV_PDF}{bare}{suffix}"}


def bozo_sentence(parsed: Any) -> str | None:
    """Return one sentence on why feedparser flagged a body as not well-formed, or None."""
    if not parsed.get("bozo"):
        return None
    exc = parsed.get("bozo_exception")
    name = type(exc).__name__ if exc is not None else "error"
    # A charset mismatch between HTTP and XML declarations is harmless: feedparser recovers.
    if name in ("CharacterEncodingOverride",):
        return None
    detail = str(exc).strip() if exc is not None else "unknown problem"
    return f"the feed is not well-formed XML ({detail})"


def looks_like_html(body: bytes) -> bool:
    """Return True when a body is an HTML page (an error or login page) rather than a feed."""
    head = body[:2048].lstrip().lower()
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    return head.startswith((b"<!doctype html", b"<html")) or (b"<html" in head and b"<rss" not in head
                                                              and b"<feed" not in head and b"<rdf" not in head)


def feed_outcome(parsed: Any, body: bytes, kept: int, skipped: int) -> tuple[str | None, bool]:
    """Return (error, complete) for a feedparser result of which `kept` entries became papers."""
    if not parsed.get("version") and not parsed.entries:
        if not body.strip():
            return "the response body is empty; expected a feed", False
        if looks_like_html(body):
            return "the URL answered an HTML page, not a feed; check the feed address", False
        problem = bozo_sentence(parsed)
        return problem or "the response is not an RSS or Atom feed", False
    problem = bozo_sentence(parsed)
    if problem is not None:
        return f"{problem}; kept the {kept} entries that parsed", False
    if skipped:
        return f"{skipped} entries had no usable id or title and were skipped", False
    return None, True


_CLOSED_ENTRY = re.compile(rb"</(?:[\w-]+:)?(?:entry|item)\s*>")


def complete_entries(parsed: Any, body: bytes) -> list[Any]:
    """Return feedparser's entries, minus any the body cuts off (a partial entry has a truncated abstract)."""
    entries = list(parsed.entries)
    if parsed.get("bozo") and entries:
        closed = len(_CLOSED_ENTRY.findall(body))
        return entries[:closed]
    return entries


def papers_from_feed(parsed: Any, body: bytes, to_paper: Callable[[Any], Paper | None]) -> ParseResult:
    """Turn a feedparser result into papers: cut-off entries dropped, repeats once, problems reported."""
    papers: list[Paper] = []
    skipped = 0
    seen: set[str] = set()
    for entry in complete_entries(parsed, body):
        paper = to_paper(entry)
        if paper is None:
            skipped += 1
        elif paper.id not in seen:  # some feeds repeat an item; one paper, once
            seen.add(paper.id)
            papers.append(paper)
    error, complete = feed_outcome(parsed, body, len(papers), skipped)
    return ParseResult(papers=papers, error=error, complete=complete)
