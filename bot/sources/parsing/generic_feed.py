"""Parse any RSS 2.0, RSS 1.0/RDF or Atom feed (journals, preprint servers, blogs) into Papers (pure)."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import feedparser

from bot.ids import find_arxiv_id, find_doi, stable_id
from bot.models import Paper, ParseResult
from bot.sources.parsing.common import arxiv_links, entry_date, papers_from_feed
from bot.text import clean_text, split_authors

__all__ = ["parse_generic_feed"]

_TEX = re.compile(r"\\[A-Za-z'\"`^~]|\$[^$\s]")


def _clean(value: str | None) -> str:
    """Clean feed text: HTML always, TeX only where the text shows TeX (a journal's "$5" stays)."""
    return clean_text(value, html_markup=True, tex=bool(value and _TEX.search(value)))


def _identity(entry: Any) -> tuple[str, int | None, str | None]:
    """Return (id, version, doi) for an entry: an arXiv id, a DOI, else a stable id from guid or link."""
    guid = (entry.get("id") or "").strip()
    link = (entry.get("link") or "").strip()
    doi_fields = [entry.get("prism_doi"), entry.get("dc_identifier"), entry.get("doi")]
    for raw in (guid, link):
        found = find_arxiv_id(raw) if raw else None
        if found is not None:
            return found[0], found[1], None
    for raw in [*doi_fields, guid, link]:
        doi = find_doi(raw) if isinstance(raw, str) and raw else None
        if doi is not None:
            return f"doi:{doi}", None, doi
    if guid or link:
        return stable_id(guid or link), None, None
    title = (entry.get("title") or "").strip()
    return f"guid:{hashlib.sha256(title.encode('utf-8')).hexdigest()[:16]}", None, None


def _authors(entry: Any) -> tuple[str, ...]:
    """Return the author names; a single joined string ("A, B and C") is split."""
    names = [a.get("name", "") for a in entry.get("authors", ()) if a.get("name")]
    if not names and entry.get("author"):
        names = [entry["author"]]
    if len(names) == 1:
        return split_authors(names[0])
    return tuple(n for n in (clean_text(name) for name in names) if n)


def _paper(entry: Any) -> Paper | None:
    """Build one Paper from a feed entry; None when it has no title."""
    title = _clean(entry.get("title"))
    if not title:
        return None
    pid, version, doi = _identity(entry)
    abstract = entry.get("summary") or ""
    if not abstract and entry.get("content"):
        abstract = entry["content"][0].get("value", "")
    links: dict[str, str] = {}
    if pid.startswith("arxiv:"):
        links.update(arxiv_links(pid))
    if entry.get("link"):
        links.setdefault("abs", entry["link"])
    for link in entry.get("links", ()):
        if link.get("type") == "application/pdf" and link.get("href"):
            links["pdf"] = link["href"]
    if doi:
        links["doi"] = f"https://doi.org/{doi}"
    return Paper(
        id=pid,
        title=title,
        abstract=_clean(abstract),
        authors=_authors(entry),
        categories=tuple(dict.fromkeys(t["term"] for t in entry.get("tags", ()) if t.get("term"))),
        published=entry_date(entry, "published", "updated", "created"),
        updated=entry_date(entry, "updated"),
        version=version,
        links=links,
        doi=doi,
    )


def parse_generic_feed(body: bytes) -> ParseResult:
    """Parse a feed body of any common flavour; entries that parsed are kept when the body is broken."""
    return papers_from_feed(feedparser.parse(body), body, _paper)
