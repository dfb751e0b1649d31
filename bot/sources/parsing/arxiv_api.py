"""Parse export.arxiv.org API responses (Atom with arxiv: extensions) into Papers (pure)."""

from __future__ import annotations

from typing import Any

import feedparser

from bot.ids import find_arxiv_id
from bot.models import Paper, ParseResult
from bot.sources.parsing.common import arxiv_links, entry_date, papers_from_feed
from bot.text import clean_text

__all__ = ["parse_arxiv_api"]


def _api_error(parsed: Any) -> str | None:
    """Return the API's own error message when the feed is its error answer (one entry titled Error)."""
    entries = parsed.entries
    if len(entries) == 1 and (entries[0].get("title") or "").strip().lower() == "error":
        message = clean_text(entries[0].get("summary"), html_markup=False) or "no detail given"
        return f"the arXiv API answered an error: {message}"
    return None


def _paper(entry: Any) -> Paper | None:
    """Build one Paper from an API entry: all authors, primary category, versions, DOI, journal ref."""
    found = find_arxiv_id(entry.get("id", "")) or find_arxiv_id(entry.get("link", ""))
    title = clean_text(entry.get("title"), html_markup=False)
    if found is None or not title:
        return None
    pid, version = found
    # entry.author is only the LAST author; entry.authors is the full list.
    authors = tuple(
        name for name in (clean_text(a.get("name"), html_markup=False) for a in entry.get("authors", ())) if name
    )
    primary = (entry.get("arxiv_primary_category") or {}).get("term")
    categories = [t.get("term") for t in entry.get("tags", ()) if t.get("term")]
    if primary and primary not in categories:
        categories.insert(0, primary)
    doi = (entry.get("arxiv_doi") or "").strip().lower() or None
    links = arxiv_links(pid)
    for link in entry.get("links", ()):
        if link.get("title") == "doi" and link.get("href"):
            links["doi"] = link["href"]
    if doi and "doi" not in links:
        links["doi"] = f"https://doi.org/{doi}"
    return Paper(
        id=pid,
        title=title,
        abstract=clean_text(entry.get("summary"), html_markup=False),
        authors=authors,
        categories=tuple(dict.fromkeys(categories)),
        primary_category=primary,
        published=entry_date(entry, "published"),
        updated=entry_date(entry, "updated"),
        version=version,
        links=links,
        doi=doi,
        journal_ref=clean_text(entry.get("arxiv_journal_ref"), html_markup=False) or None,
    )


def parse_arxiv_api(body: bytes) -> ParseResult:
    """Parse an API response body; its error feed becomes an error with no papers."""
    parsed = feedparser.parse(body)
    error = _api_error(parsed)
    if error is not None:
        return ParseResult(papers=[], error=error, complete=False)
    return papers_from_feed(parsed, body, _paper)
