"""Polling: fetch each due source, parse its bytes, store its papers, record how it went.

Orchestration: the HTTP client, clock and pacer come in through a `Poller`;
the database through `Database`. A source that fails (network, HTTP status,
unparseable body, even a bug in a parser) is recorded and never stops the
others.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import httpx
from sqlalchemy.orm import Session

from bot.errors import FetchError
from bot.sources.fetch import FetchOutcome, FetchState, HostPacer, fetch, is_due, next_attempt_after
from bot.sources.parsing import detect_kind, parse_feed
from bot.store import Database, papers, sources
from bot.store.sources import Source

__all__ = ["MAX_CONSECUTIVE_FAILURES", "PollReport", "Poller", "poll_sources", "poll_one", "sniff_kind"]

MAX_CONSECUTIVE_FAILURES = 20  # with the 12 h backoff cap: about a week of failures, then an operator looks


@dataclass(frozen=True)
class PollReport:
    """One line of `paperpost poll`: what one source gave.

    `status`: ok, partial (some entries kept, the body was broken or cut off),
    not_modified, failed, gone (HTTP 410: switched off).
    """

    source: str
    status: str
    new: int = 0
    updated: int = 0
    known: int = 0
    error: str | None = None
    moved_to: str | None = None  # a permanent redirect: the URL now stored
    deactivated: bool = False  # this poll switched the source off
    seconds: float = 0.0


@dataclass(frozen=True)
class Poller:
    """What polling needs from outside: an HTTP client, a clock, a pacer, our User-Agent."""

    client: httpx.Client
    user_agent: str
    clock: Callable[[], datetime]
    pacer: HostPacer
    default_interval: int = 900
    max_bytes: int = 20_000_000
    timeout: float = 30.0

    def due(self, source: Source, now: datetime) -> bool:
        """Return True when `source` is past both its backoff and its polling interval."""
        state = FetchState(source.url, next_attempt_at=source.next_attempt_at)
        interval = timedelta(seconds=source.interval or self.default_interval)
        fresh_enough = source.last_polled is not None and source.last_polled + interval > now
        return is_due(state, now) and not fresh_enough

    def get(self, state: FetchState) -> FetchOutcome:
        """Fetch `state.url` once with this poller's client, pacing, limits and clock."""
        return fetch(self.client, state, user_agent=self.user_agent, max_bytes=self.max_bytes,
                     clock=self.clock, pacer=self.pacer, timeout=self.timeout)


def poll_sources(db: Database, poller: Poller, *, names: Sequence[str] | None = None, force: bool = False,
                 on_start: Callable[[Source], None] | None = None,
                 on_done: Callable[[PollReport], None] | None = None) -> list[PollReport]:
    """Poll the named sources (or every due active one); a failing source never stops the others.

    Named sources are polled even when inactive or backing off: an operator asked for them.
    An unknown name raises NotFound before anything is fetched.
    """
    with db.session() as session:
        if names:
            chosen = [sources.get_source(session, name) for name in names]
        else:
            now = poller.clock()
            chosen = [s for s in sources.list_sources(session, active_only=True) if force or poller.due(s, now)]
    reports = []
    for source in chosen:
        if on_start:
            on_start(source)
        report = poll_one(db, poller, source)
        reports.append(report)
        if on_done:
            on_done(report)
    return reports


def poll_one(db: Database, poller: Poller, source: Source) -> PollReport:
    """Fetch, parse and store one source, and record the outcome on its row."""
    started = time.monotonic()
    state = FetchState(source.url, source.etag, source.last_modified, source.failures, source.next_attempt_at)
    try:
        outcome = poller.get(state)
        now = poller.clock()
        with db.session() as session:
            report = _store_outcome(session, source, outcome, now)
    except Exception as exc:  # noqa: BLE001 - a bug on one source (a parser, odd data) must not stop the others
        report = _record_crash(db, source, poller.clock(), exc)
    return replace(report, seconds=round(time.monotonic() - started, 3))


def sniff_kind(poller: Poller, url: str) -> str:
    """Return the kind of the source at `url`: from the URL, else from one fetch of its body.

    Raises FetchError when the URL says nothing and the body cannot be fetched.
    """
    kind = detect_kind(url)
    if kind != "rss":
        return kind
    outcome = poller.get(FetchState(url))
    if not outcome.has_body:
        raise FetchError(f"could not fetch {url} to tell what kind of feed it is ({outcome.error}); "
                         "check the URL or give --kind")
    return detect_kind(url, outcome.body)


def _store_outcome(session: Session, source: Source, outcome: FetchOutcome, now: datetime) -> PollReport:
    """Record what one fetch gave on the source's row, storing the papers of a body."""
    name = source.name
    if outcome.status == "not_modified":
        sources.record_poll(session, source.id, now, url=outcome.state.url, failures=0, next_attempt_at=None,
                            last_error=None, etag=outcome.state.etag, last_modified=outcome.state.last_modified)
        return PollReport(name, "not_modified", moved_to=outcome.new_url)
    if outcome.status == "gone":
        sources.record_poll(session, source.id, now, active=False, last_error=outcome.error)
        return PollReport(name, "gone", error=outcome.error, deactivated=True)
    if outcome.status == "failed":
        return _record_failure(session, source, now, outcome.state.failures, outcome.state.next_attempt_at,
                               outcome.error or "the fetch failed")
    result = parse_feed(source.kind, outcome.body)
    counts = papers.upsert_papers(session, result.papers, source.id, now)
    if result.complete:
        sources.record_poll(session, source.id, now, url=outcome.state.url, etag=outcome.state.etag,
                            last_modified=outcome.state.last_modified, failures=0, next_attempt_at=None,
                            last_error=None)
        return PollReport(name, "ok", counts.new, counts.updated, counts.known, moved_to=outcome.new_url)
    # A broken or cut-off body: keep what parsed, but forget the validators, so that the next
    # poll fetches the whole listing instead of a 304 that would hide the lost entries.
    error = result.error or "the body could not be parsed completely"
    if result.papers:
        # Some feeds are always a little malformed and still give papers: not a failure, no backoff.
        sources.record_poll(session, source.id, now, url=outcome.state.url, etag=None, last_modified=None,
                            failures=0, next_attempt_at=None, last_error=error)
        return PollReport(name, "partial", counts.new, counts.updated, counts.known, error=error,
                          moved_to=outcome.new_url)
    sources.record_poll(session, source.id, now, url=outcome.state.url, etag=None, last_modified=None)
    failures = source.failures + 1
    report = _record_failure(session, source, now, failures, now + next_attempt_after(failures), error)
    return replace(report, moved_to=outcome.new_url)


def _record_failure(session: Session, source: Source, now: datetime, failures: int,
                    next_attempt_at: datetime | None, error: str) -> PollReport:
    """Count a failure with its backoff; switch the source off after too many in a row."""
    switch_off = source.active and failures >= MAX_CONSECUTIVE_FAILURES
    if switch_off:
        error = (f"{error}; switched off after {failures} failures in a row "
                 f"(`paperpost sources enable {source.name}` turns it back on)")
    changes: dict[str, object] = {"failures": failures, "next_attempt_at": next_attempt_at, "last_error": error}
    if switch_off:
        changes["active"] = False
    sources.record_poll(session, source.id, now, **changes)
    return PollReport(source.name, "failed", error=error, deactivated=switch_off)


def _record_crash(db: Database, source: Source, now: datetime, exc: Exception) -> PollReport:
    """Record an unexpected error on one source as a failure (in a fresh session)."""
    error = f"could not process {source.url}: {type(exc).__name__}: {exc}"
    failures = source.failures + 1
    with db.session() as session:
        return _record_failure(session, source, now, failures, now + next_attempt_after(failures), error)
