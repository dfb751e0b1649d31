"""Polling: fetch each due source, parse its bytes, store its papers, record how it went."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx

from bot.fetch import FetchOutcome, FetchState, HostPacer, fetch, is_due, next_attempt_after
from bot.parsing import parse_feed
from bot.store import Database, papers, sources
from bot.store.sources import Source

MAX_CONSECUTIVE_FAILURES = 20  # then the source is switched off until an operator looks


@dataclass(frozen=True)
class PollReport:
    """One line of `paperpost poll`: what one source gave."""

    source: str
    status: str  # ok, not_modified, failed, gone, skipped
    new: int = 0
    updated: int = 0
    known: int = 0
    error: str | None = None
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
        state = FetchState(source.url, next_attempt_at=source.next_attempt_at)
        interval = timedelta(seconds=source.interval or self.default_interval)
        fresh_enough = source.last_polled is not None and source.last_polled + interval > now
        return is_due(state, now) and not fresh_enough


def poll_sources(db: Database, poller: Poller, *, names: Sequence[str] | None = None, force: bool = False,
                 on_start: Callable[[Source], None] | None = None) -> list[PollReport]:
    """Poll the named sources (or every due active one); a failing source never stops the others."""
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
        reports.append(poll_one(db, poller, source))
    return reports


def poll_one(db: Database, poller: Poller, source: Source) -> PollReport:
    started = time.monotonic()
    state = FetchState(source.url, source.etag, source.last_modified, source.failures, source.next_attempt_at)
    outcome = fetch(poller.client, state, user_agent=poller.user_agent, max_bytes=poller.max_bytes,
                    clock=poller.clock, pacer=poller.pacer, timeout=poller.timeout)
    now = poller.clock()
    with db.session() as session:
        report = _store_outcome(session, source, outcome, now)
    return PollReport(**{**report.__dict__, "seconds": round(time.monotonic() - started, 3)})


def _store_outcome(session, source: Source, outcome: FetchOutcome, now: datetime) -> PollReport:  # type: ignore[no-untyped-def]
    name = source.name
    if outcome.status == "not_modified":
        sources.record_poll(session, source.id, now, url=outcome.state.url, failures=0, next_attempt_at=None,
                            last_error=None, etag=outcome.state.etag, last_modified=outcome.state.last_modified)
        return PollReport(name, "not_modified")
    if outcome.status == "gone":
        sources.record_poll(session, source.id, now, active=False, last_error=outcome.error)
        return PollReport(name, "gone", error=outcome.error)
    if outcome.status == "failed":
        failures = outcome.state.failures
        sources.record_poll(session, source.id, now, failures=failures, next_attempt_at=outcome.state.next_attempt_at,
                            last_error=outcome.error, active=failures < MAX_CONSECUTIVE_FAILURES)
        return PollReport(name, "failed", error=outcome.error)
    result = parse_feed(source.kind, outcome.body)
    counts = papers.upsert_papers(session, result.papers, source.id, now)
    if result.complete:
        # Only a complete listing may be remembered as seen: otherwise the next poll must fetch it whole.
        sources.record_poll(session, source.id, now, url=outcome.state.url, etag=outcome.state.etag,
                            last_modified=outcome.state.last_modified, failures=0, next_attempt_at=None, last_error=None)
        return PollReport(name, "ok", counts.new, counts.updated, counts.known)
    failures = source.failures + (0 if result.papers else 1)
    sources.record_poll(session, source.id, now, url=outcome.state.url, etag=None, last_modified=None,
                        failures=failures, last_error=result.error, active=failures < MAX_CONSECUTIVE_FAILURES,
                        next_attempt_at=now + next_attempt_after(failures) if failures else None)
    status = "ok" if result.papers else "failed"
    return PollReport(name, status, counts.new, counts.updated, counts.known, error=result.error)
