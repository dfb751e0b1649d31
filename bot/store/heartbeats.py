"""Job heartbeats: one row per scheduler job, touched when the job starts and ends (by whichever worker ran it).

Each worker's own heartbeat (and roles) is its row in `workers` (bot.store.workers).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.store.schema import WorkerHeartbeatRow


@dataclass(frozen=True)
class Heartbeat:
    job: str
    interval: int
    running: bool
    pid: int | None
    host: str | None
    last_started: datetime | None
    last_finished: datetime | None
    last_error: str | None


def job_started(session: Session, job: str, interval: int, now: datetime, *, pid: int, host: str) -> None:
    """Record that `job` (run every `interval` seconds) started at `now` in process `pid` on `host`."""
    row = session.get(WorkerHeartbeatRow, job)
    if row is None:
        try:
            with session.begin_nested():  # several workers run `send`: the first run of two may race to insert
                row = WorkerHeartbeatRow(job=job)
                session.add(row)
        except IntegrityError:
            row = session.get(WorkerHeartbeatRow, job)
            assert row is not None
    row.interval, row.running, row.pid, row.host, row.last_started = interval, True, pid, host, now


def job_finished(session: Session, job: str, now: datetime, error: str | None = None) -> None:
    """Record that `job` ended at `now`, with the error that ended it, if any."""
    row = session.get(WorkerHeartbeatRow, job)
    if row is not None:
        row.running, row.last_finished, row.last_error = False, now, error


def list_heartbeats(session: Session) -> list[Heartbeat]:
    rows = session.scalars(select(WorkerHeartbeatRow).order_by(WorkerHeartbeatRow.job))
    return [Heartbeat(r.job, r.interval, r.running, r.pid, r.host, r.last_started, r.last_finished, r.last_error)
            for r in rows]
