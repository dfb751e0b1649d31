"""Feed parsing, pure: bytes in, `ParseResult` out; the kind of a source from its URL or body."""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import urlsplit

from bot.models import ParseResult
from bot.sources.parsing.arxiv_api import parse_arxiv_api
from bot.sources.parsing.arxiv_feed import parse_arxiv_feed
from bot.sources.parsing.generic_feed import parse_generic_feed
from bot.sources.parsing.hf_daily import parse_hf_daily
from bot.sources.parsing.links import keep_web_links

__all__ = ["KINDS", "parse_feed", "detect_kind", "expand_shortcut"]

_PARSERS: dict[str, Callable[[bytes], ParseResult]] = {
    "arxiv": parse_arxiv_feed,
    "arxiv-api": parse_arxiv_api,
    "hf": parse_hf_daily,
    "rss": parse_generic_feed,
}
KINDS = tuple(_PARSERS)

ARXIV_FEED_URL = "https://rss.arxiv.org/atom/"
HF_DAILY_URL = "https://huggingface.co/api/daily_papers"
# cs.CL, math.AG, hep-th, q-bio.NC, astro-ph.GA, cs; several joined with "+".
_CATEGORY = r"[a-z]+(?:-[a-z]+)*(?:\.[A-Za-z]{2,})?"
_ARXIV_SHORTCUT = re.compile(rf"arxiv:({_CATEGORY}(?:\+{_CATEGORY})*)", re.IGNORECASE)
_ARXIV_FEED_BODY = re.compile(
    rb"rss\.arxiv\.org|<arxiv:announce_type|updates on arXiv\.org|Announce Type:", re.IGNORECASE
)


def parse_feed(kind: str, body: bytes) -> ParseResult:
    """Parse `body` as a feed of `kind` (arxiv, arxiv-api, hf, rss); a ValueError names an unknown kind.

    Every parser is reached through here, so that only http(s) links leave any of them.
    """
    try:
        parser = _PARSERS[kind]
    except KeyError:
        raise ValueError(f"unknown source kind {kind!r}; use one of {', '.join(KINDS)}") from None
    return keep_web_links(parser(body))


def detect_kind(url: str, body: bytes | None = None) -> str:
    """Return the kind of a source from its URL, then from a sample of its body; `rss` when unsure."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower()
    path = parts.path.lower()
    if host == "rss.arxiv.org" or (host.endswith("arxiv.org") and path.startswith(("/rss", "/atom"))):
        return "arxiv"
    if host.endswith("arxiv.org") and path.startswith("/api"):
        return "arxiv-api"
    if host.endswith("huggingface.co") and path.startswith("/api/daily_papers"):
        return "hf"
    if body:
        head = body[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
        if head.startswith(b"[") and re.match(rb"\[\s*(\]|\{\s*\"paper\"\s*:)", head):
            return "hf"
        if head.startswith(b"<") and _ARXIV_FEED_BODY.search(body[:8192]):
            return "arxiv"
        if b"<opensearch:totalResults" in body[:4096] and b"arxiv.org/api" in body[:4096]:
            return "arxiv-api"
    return "rss"


def expand_shortcut(text: str) -> tuple[str, str] | None:
    """Return (url, kind) for `arxiv:cs.CL`, `arxiv:cs.CL+cs.LG` or `hf:daily`; None for anything else."""
    value = text.strip()
    if value.lower() in ("hf:daily", "hf:daily_papers", "hf"):
        return HF_DAILY_URL, "hf"
    match = _ARXIV_SHORTCUT.fullmatch(value)
    if match:
        return ARXIV_FEED_URL + match.group(1), "arxiv"
    return None
