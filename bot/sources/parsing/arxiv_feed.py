"""Parse arXiv announcement feeds (rss.arxiv.org RSS 2.0 and Atom, and the old RSS 1.0/RDF) into Papers (pure)."""

from __future__ import annotations

import re
from typing import Any

import feedparser

from bot.ids import find_arxiv_id
from bot.models import Paper, ParseResult
from bot.sources.parsing.common import arxiv_links, entry_date, papers_from_feed
from bot.text import clean_text, split_authors

__all__ = ["parse_arxiv_feed", "ANNOUNCE_TYPES"]

ANNOUNCE_TYPES = ("new", "cross", "replace", "replace-cross")

# "arXiv:2508.13426v1 Announce Type: cross \nAbstract: ..." (the current feeds' summary prefix)
_PREFIX = re.compile(
    r"^\s*arXiv:(?P<raw>\S+)\s+Announce Type:\s*(?P<type>[a-z-]+)\s*(?:Abstract:\s*)?", re.IGNORECASE
)
# "Title. (arXiv:1805.09166v1 [hep-ex] CROSS LISTED)" (the pre-2024 RDF feeds' title suffix)
_OLD_TITLE = re.compile(
    r"\s*\(arXiv:(?P<raw>\S+)\s*(?:\[(?P<cat>[^\]]+)\])?\s*(?P<flag>UPDATED|CROSS LISTED)?\)\s*$"
)
_OLD_FLAGS = {None: "new", "CROSS LISTED": "cross", "UPDATED": "replace"}


def _is_html(detail: Any) -> bool:
    """True when feedparser says a text construct holds HTML."""
    return bool(detail) and "html" in str(detail.get("type", ""))


def _authors(entry: Any) -> tuple[str, ...]:
    """Split the one comma-joined dc:creator (or several author elements) into names."""
    names = [a.get("name", "") for a in entry.get("authors", ()) if a.get("name")]
    if not names and entry.get("author"):
        names = [entry.get("author")]
    out: list[str] = []
    for name in names:
        out.extend(split_authors(name))
    return tuple(out)


def _paper(entry: Any) -> Paper | None:
    """Build one Paper from an announcement entry; None when it carries no arXiv id."""
    summary = entry.get("summary", "") or ""
    title = entry.get("title", "") or ""
    announce = (entry.get("arxiv_announce_type") or "").strip().lower() or None
    raw_ids = [entry.get("id", ""), entry.get("link", "")]
    prefix = _PREFIX.match(summary)
    if prefix:
        raw_ids.insert(0, prefix.group("raw"))
        announce = announce or prefix.group("type").lower()
        summary = summary[prefix.end():]
    categories = [t.get("term") for t in entry.get("tags", ()) if t.get("term")]
    primary: str | None = None
    old = _OLD_TITLE.search(title)
    if old:
        raw_ids.insert(0, old.group("raw"))
        announce = announce or _OLD_FLAGS.get(old.group("flag"), "new")
        if old.group("cat"):
            primary = old.group("cat").strip()  # the old feeds name the primary category here
            categories = categories or [primary]
        title = title[: old.start()].rstrip().removesuffix(".")  # the suffix followed "Title."
    found = [x for x in (find_arxiv_id(r.removeprefix("arXiv:")) if r else None for r in raw_ids) if x]
    if not found:
        return None
    pid = found[0][0]
    version = next((v for _, v in found if v is not None), None)
    clean_title = clean_text(title, html_markup=_is_html(entry.get("title_detail")))
    if not clean_title:
        return None
    doi = (entry.get("arxiv_doi") or "").strip() or None
    links = arxiv_links(pid)
    if doi:
        links["doi"] = f"https://doi.org/{doi}"
    journal = entry.get("arxiv_journal_reference") or entry.get("arxiv_journal_ref")
    return Paper(
        id=pid,
        title=clean_title,
        abstract=clean_text(summary, html_markup=_is_html(entry.get("summary_detail"))),
        authors=_authors(entry),
        categories=tuple(dict.fromkeys(categories)),
        primary_category=primary,
        published=entry_date(entry, "published", "updated"),
        version=version,
        links=links,
        announce_type=announce if announce in ANNOUNCE_TYPES else None,
        doi=doi.lower() if doi else None,
        journal_ref=clean_text(journal, html_markup=False) or None,
    )


def parse_arxiv_feed(body: bytes) -> ParseResult:
    """Parse an arXiv announcement feed body; entries that parsed are kept when the body is broken."""
    return papers_from_feed(feedparser.parse(body), body, _paper)
