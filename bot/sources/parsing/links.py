"""The edge of every parser: only absolute http and https links leave it (pure).

A feed is written by someone else. Its links become `href`s in digests, pages
and Telegram messages, so `javascript:`, `data:`, `file:`, relative links,
links with hidden control characters or with a user name before the host
(`https://arxiv.org@evil.example/`) are dropped here, once, for every parser.
"""

from __future__ import annotations

import re
from dataclasses import replace
from urllib.parse import urlsplit

from bot.models import Paper, ParseResult

__all__ = ["WEB_SCHEMES", "web_link", "with_web_links", "keep_web_links"]

WEB_SCHEMES = ("http", "https")
# Browsers drop tabs and newlines inside a URL (`java\tscript:` runs) and treat other
# controls and Unicode spaces unpredictably: a link holding any of them is not kept.
_HIDDEN = re.compile(r"[\x00-\x1f\x7f-\x9f\u00a0\u1680\u180e\u2000-\u200f\u2028-\u202f\u205f-\u2064\u3000\ufeff]")


def web_link(value: object) -> str | None:
    """Return `value` as a clean absolute http(s) URL with a host, or None when it is anything else."""
    if not isinstance(value, str):
        return None
    url = value.strip(" ")
    if not url or _HIDDEN.search(url):
        return None
    url = url.replace(" ", "%20")  # a space inside a path is a sloppy link, not a hostile one
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:  # an unbalanced [ in the host, a bad port
        return None
    if parts.scheme.lower() not in WEB_SCHEMES or not host or "@" in parts.netloc:
        return None
    return url


def with_web_links(paper: Paper) -> Paper:
    """Return `paper` with every link and its thumbnail that is not a web link removed."""
    links = {kind: safe for kind, url in paper.links.items() if (safe := web_link(url)) is not None}
    thumbnail = web_link(paper.thumbnail) if paper.thumbnail is not None else None
    if links == paper.links and thumbnail == paper.thumbnail:
        return paper
    return replace(paper, links=links, thumbnail=thumbnail)


def keep_web_links(result: ParseResult) -> ParseResult:
    """Return a parser's result with `with_web_links` applied to each of its papers."""
    return replace(result, papers=[with_web_links(paper) for paper in result.papers])
