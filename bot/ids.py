"""Canonical paper ids: `arxiv:ID` (version kept apart) and stable ids for other feeds (pure)."""

from __future__ import annotations

import hashlib
import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = ["canonical_arxiv_id", "find_arxiv_id", "find_doi", "stable_id", "normalise_url"]

# New style: 0704.0001 .. 2401.12345 (4 digits after the dot until 2014, 5 since).
# Old style: archive[.SUBJ]/YYMMNNN, e.g. hep-th/9901001, math.AG/0601001. The
# version is a separate group: never split an id on the letter "v".
_ID = r"(?P<id>\d{4}\.\d{4,5}|[a-z]+(?:-[a-z]+)*(?:\.[A-Z]{2})?/\d{7})(?:v(?P<v>\d+))?"
_BARE = re.compile(_ID)
_PREFIXED = re.compile(r"(?i:oai:arxiv\.org:|arxiv:)" + _ID)
_ARXIV_URL = re.compile(
    r"(?i:https?://(?:[a-z]+\.)?arxiv\.org/(?:abs|pdf|html|format|ps)/)" + _ID + r"(?i:\.pdf)?/?"
)
_ARXIV_DOI = re.compile(r"(?i:(?:https?://(?:dx\.)?doi\.org/|doi:)?10\.48550/arxiv\.)" + _ID)
_HF_URL = re.compile(r"(?i:https?://(?:www\.)?huggingface\.co/papers/)" + _ID + r"/?")
_FORMS = (_PREFIXED, _ARXIV_URL, _ARXIV_DOI, _HF_URL, _BARE)

# DOI syntax per Crossref's advice; trailing punctuation is not part of it.
_DOI = re.compile(r"10\.\d{4,9}/[^\s\"'<>#?]+")
# bioRxiv/medRxiv put the version and a format after the DOI in their links.
_BIORXIV_DOI = re.compile(r"10\.1101/(?:\d{4}\.\d{2}\.\d{2}\.)?\d+")
_TRACKING = ("utm_", "rss", "fbclid", "gclid", "mc_")


def find_arxiv_id(raw: str) -> tuple[str, int | None] | None:
    """Return ("arxiv:ID", version) when `raw` is an arXiv id, abs/pdf link or arXiv DOI, else None."""
    text = raw.strip()
    for form in _FORMS:
        match = form.fullmatch(text)
        if match:
            version = match.group("v")
            return f"arxiv:{match.group('id')}", int(version) if version else None
    return None


def canonical_arxiv_id(raw: str) -> tuple[str, int | None]:
    """Return ("arxiv:2401.12345", 3) for any form of an arXiv id; ValueError if it is not one."""
    found = find_arxiv_id(raw)
    if found is None:
        raise ValueError(f"not an arXiv identifier: {raw!r}")
    return found


def find_doi(text: str) -> str | None:
    """Return the DOI inside `text` (a bare DOI, doi: or a doi.org/publisher link), lower-cased."""
    match = _BIORXIV_DOI.search(text) or _DOI.search(text)
    if not match:
        return None
    # DOIs are case-insensitive; a trailing dot or bracket belongs to the sentence.
    return match.group(0).rstrip(".,;:)]}").lower()


def normalise_url(url: str) -> str:
    """Return `url` with scheme/host lower-cased, no fragment, no tracking parameters, no trailing slash."""
    parts = urlsplit(url.strip())
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if not k.lower().startswith(_TRACKING)]
    path = parts.path.rstrip("/") or ""
    host = parts.netloc.lower()
    scheme = "https" if parts.scheme.lower() in ("http", "https") else parts.scheme.lower()
    return urlunsplit((scheme, host, path, urlencode(query), ""))


def stable_id(guid_or_link: str) -> str:
    """Return a stable id for a non-arXiv entry: `arxiv:`, `doi:`, `url:` (normalised link) or `guid:` (hash)."""
    text = guid_or_link.strip()
    arxiv = find_arxiv_id(text)
    if arxiv is not None:
        return arxiv[0]  # a real arXiv link: the same paper as the arXiv feeds bring
    doi = find_doi(text)
    if doi is not None:
        return f"doi:{doi}"
    if re.match(r"(?i)https?://", text):
        return f"url:{normalise_url(text)}"
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
    return f"guid:{digest}"
