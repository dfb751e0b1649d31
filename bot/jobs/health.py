"""Health of the service (for GET /healthz): the database answers, sources were polled, the outbox drains,
the worker's jobs keep running, and which workers are alive (a lock test) with their roles.

The report is for operators; the public answer (`public_health`) is the status alone unless they ask.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text

from bot.jobs.liveness import alive_among
from bot.logs import redact
from bot.store import Database, heartbeats, outbox, sources, workers
from bot.store.heartbeats import Heartbeat
from bot.store.workers import WorkerInfo

# A job is stuck when it has not started (or not finished) for this many intervals. The floor leaves room
# for a slow poll (many sources, arXiv's 3 s pacing, 30 s timeouts) with a short interval.
STUCK_INTERVALS = 3
STUCK_FLOOR = timedelta(minutes=10)


def stale_after(beat: Heartbeat) -> timedelta:
    """How long `beat`'s job may go without a run before it counts as stuck."""
    return max(timedelta(seconds=beat.interval * STUCK_INTERVALS), STUCK_FLOOR)


def job_state(beat: Heartbeat, now: datetime) -> str:
    """ok, or stuck (running for too long, or not run for too long: the worker hangs or is gone)."""
    if beat.running:
        since = beat.last_started
    else:
        since = max((t for t in (beat.last_started, beat.last_finished) if t is not None), default=None)
    return "stuck" if since is None or now - since > stale_after(beat) else "ok"


def worker_report(beats: list[Heartbeat], now: datetime) -> tuple[bool, dict[str, Any]]:
    """(healthy, details) of the worker; a worker that never ran is reported, not counted as stuck."""
    if not beats:
        return True, {"state": "never ran"}
    jobs = {b.job: {"state": job_state(b, now), "running": b.running, "pid": b.pid, "host": b.host,
                    "last_started": b.last_started.isoformat() if b.last_started else None,
                    "last_finished": b.last_finished.isoformat() if b.last_finished else None,
                    "last_error": b.last_error} for b in beats}
    stuck = sorted(name for name, job in jobs.items() if job["state"] == "stuck")
    return not stuck, {"state": f"stuck: {', '.join(stuck)}" if stuck else "ok", "jobs": jobs}


def workers_report(registered: list[WorkerInfo], alive: set[int]) -> list[dict[str, Any]]:
    """The workers not known to have stopped, oldest first, each with its roles and whether its lock is held."""
    return [{"id": w.id, "host": w.host, "pid": w.pid, "roles": list(w.roles), "alive": w.id in alive,
             "planner": "plan" in w.roles or "poll" in w.roles, "started_at": w.started_at.isoformat(),
             "heartbeat_at": w.heartbeat_at.isoformat()} for w in registered]


def health_report(db: Database, now: datetime) -> tuple[bool, dict[str, Any]]:
    """(healthy, details): details name the database state, each source's last poll, the outbox backlog
    and the worker's jobs; unhealthy when the database fails or a worker job is stuck."""
    try:
        with db.session() as session:
            session.execute(text("SELECT 1"))
            polled = {s.name: {"last_polled": s.last_polled.isoformat() if s.last_polled else None,
                               "last_error": s.last_error, "active": s.active}
                      for s in sources.list_sources(session)}
            backlog = outbox.backlog(session)
            beats = heartbeats.list_heartbeats(session)
            registered = workers.live_workers(session)
        alive = alive_among(db, [w.id for w in registered])
    except Exception as exc:  # noqa: BLE001 - any database failure means unhealthy, reported not raised
        return False, {"database": f"error: {exc.__class__.__name__}"}
    worker_ok, worker = worker_report(beats, now)
    return worker_ok, {"database": "ok", "sources": polled, "outbox": backlog, "worker": worker,
                       "workers": workers_report(registered, alive), "checked_at": now.isoformat()}


def public_health(healthy: bool, report: dict[str, Any], *, details: bool) -> dict[str, Any]:
    """What GET /healthz shows: the status alone, or with `details` the whole report (secrets blanked)."""
    status = {"healthy": healthy, "status": "ok" if healthy else "unhealthy"}
    if not details:
        return status
    return {**status, **json.loads(redact(json.dumps(report, default=str)))}
