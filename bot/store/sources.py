"""Paper sources in the database: what to poll, and the fetch state kept between polls."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.errors import NotFound, PaperpostError
from bot.sources.urls import redact_urls, source_url_problem
from bot.store.schema import SourceRow

log = logging.getLogger("paperpost.sources")


@dataclass(frozen=True)
class Source:
    id: int
    name: str
    url: str
    kind: str
    active: bool
    interval: int | None
    etag: str | None
    last_modified: str | None
    failures: int
    next_attempt_at: datetime | None
    last_polled: datetime | None
    last_error: str | None
    moved_to: str | None = None  # a permanent redirect seen while polling, not accepted yet

    @property
    def shown_url(self) -> str:
        """The URL as displays and logs may show it: any user name or password replaced by ***."""
        return redact_urls(self.url)


def to_source(row: SourceRow) -> Source:
    return Source(row.id, row.name, row.url, row.kind, row.active, row.interval, row.etag, row.last_modified,
                  row.failures, row.next_attempt_at, row.last_polled, row.last_error, row.moved_to)


def add_source(session: Session, name: str, url: str, kind: str, now: datetime, interval: int | None = None) -> Source:
    """Store a new source; a URL with credentials or aimed at a forbidden address is refused with a sentence."""
    problem = source_url_problem(url)
    if problem is not None:
        raise PaperpostError(f"Cannot add {name!r}: {problem}.")
    if session.scalar(select(SourceRow).where(SourceRow.name == name)) is not None:
        raise PaperpostError(f"A source named {name!r} exists already; pick another --name or remove it first.")
    row = SourceRow(name=name, url=url, kind=kind, active=True, interval=interval, failures=0, created_at=now)
    session.add(row)
    session.flush()
    return to_source(row)


def ensure_source(session: Session, name: str, url: str, kind: str, now: datetime) -> Source:
    """The named source, created if missing, its URL and kind brought in line (used for the seeds)."""
    row = session.scalar(select(SourceRow).where(SourceRow.name == name))
    if row is None:
        return add_source(session, name, url, kind, now)
    if (row.url, row.kind) != (url, kind):
        row.url, row.kind, row.etag, row.last_modified = url, kind, None, None
    return to_source(row)


def list_sources(session: Session, *, active_only: bool = False) -> list[Source]:
    query = select(SourceRow).order_by(SourceRow.name)
    if active_only:
        query = query.where(SourceRow.active.is_(True))
    return [to_source(row) for row in session.scalars(query)]


def get_source(session: Session, name: str) -> Source:
    row = session.scalar(select(SourceRow).where(SourceRow.name == name))
    if row is None:
        raise NotFound(f"No source named {name!r}; `paperpost sources list` shows the names.")
    return to_source(row)


def remove_source(session: Session, name: str) -> None:
    row = session.scalar(select(SourceRow).where(SourceRow.name == name))
    if row is None:
        raise NotFound(f"No source named {name!r}; `paperpost sources list` shows the names.")
    session.delete(row)


def set_active(session: Session, name: str, active: bool) -> Source:
    """Switch a source on (its failure count and backoff cleared) or off."""
    row = session.scalar(select(SourceRow).where(SourceRow.name == name))
    if row is None:
        raise NotFound(f"No source named {name!r}; `paperpost sources list` shows the names.")
    row.active = active
    if active:
        row.failures, row.next_attempt_at = 0, None
    return to_source(row)


def accept_move(session: Session, name: str) -> Source:
    """Make a source's recorded permanent redirect its URL (the operator agrees to follow it)."""
    row = session.scalar(select(SourceRow).where(SourceRow.name == name))
    if row is None:
        raise NotFound(f"No source named {name!r}; `paperpost sources list` shows the names.")
    if row.moved_to is None:
        raise PaperpostError(f"{name} has not moved; nothing to accept.")
    problem = source_url_problem(row.moved_to)
    if problem is not None:
        raise PaperpostError(f"Cannot move {name}: {problem}.")
    row.url, row.moved_to, row.etag, row.last_modified = row.moved_to, None, None, None
    return to_source(row)


def record_poll(session: Session, source_id: int, now: datetime, **changes: object) -> None:
    """Store the outcome of one poll: any of url, etag, last_modified, failures, next_attempt_at, last_error, active.

    The URL the operator gave is never rewritten by a poll: a different `url` (a permanent
    redirect was followed) is recorded as `moved_to` and logged, for `accept_move`; the same
    URL clears it. Errors are stored with the credentials of any URL in them hidden.
    """
    row = session.get(SourceRow, source_id)
    if row is None:
        return
    row.last_polled = now
    url = changes.pop("url", None)
    if isinstance(url, str):
        moved_to = None if url == row.url else url
        if moved_to is not None and moved_to != row.moved_to:
            log.warning("source %s moved permanently to %s; `paperpost sources accept-move %s` follows it",
                        row.name, redact_urls(moved_to), row.name)
        row.moved_to = moved_to
    if isinstance(changes.get("last_error"), str):
        changes["last_error"] = redact_urls(str(changes["last_error"]))
    for name, value in changes.items():
        setattr(row, name, value)
