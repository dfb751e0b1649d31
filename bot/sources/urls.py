"""Source URLs as people type and see them: credentials refused on the way in, hidden on the way out."""

from __future__ import annotations

from urllib.parse import urlsplit

from bot.logs import hide_credentials
from bot.sources.addresses import classify, ip_literal


__all__ = ["redact_urls", "source_url_problem"]

def redact_urls(text: str) -> str:
    """Return `text` with the user name and password of every URL in it blanked (bot.logs: one rule for all)."""
    return hide_credentials(text)


def source_url_problem(url: str) -> str | None:
    """Return why `url` cannot be a source (a sentence that says what to do), or None when it can."""
    if "://" not in url or url.startswith("file://"):
        return None  # a local file (the seeds, a test feed): no network involved
    try:
        parts = urlsplit(url)
        host, _ = parts.hostname, parts.port
    except ValueError as exc:
        return f"{redact_urls(url)!r} is not a valid URL ({exc}); check it"
    if parts.scheme.lower() not in ("http", "https"):
        return f"{url!r} is not an http(s) URL; give an http:// or https:// feed address"
    if not host:
        return f"{url!r} has no host; give the full feed address, as in https://example.org/feed.xml"
    if "@" in parts.netloc:
        return (f"{redact_urls(url)} holds a user name or password; source URLs are stored and shown in plain "
                "text, so give the feed's address without them")
    literal = ip_literal(host)
    if literal is not None and classify(literal)[0] == "forbidden":
        return f"{url} points to {literal}, {classify(literal)[1]}, which sources may never reach"
    return None
