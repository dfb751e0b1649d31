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
    values = {"interval": interval, "running": True, "pid": pid, "host": host, "last_started": now}
    row = session.get(WorkerHeartbeatRow, job)
    if row is None:
        try:
            with session.begin_nested():  # several workers run `send`: their first runs may race to insert
                session.add(WorkerHeartbeatRow(job=job, **values))
            return
        except IntegrityError:
            row = session.get(WorkerHeartbeatRow, job)
            if row is None:
                raise
    for name, value in values.items():
        setattr(row, name, value)


def job_finished(session: Session, job: str, now: datetime, error: str | None = None) -> None:
    """Record that `job` ended at `now`, with the error that ended it, if any."""
    row = session.get(WorkerHeartbeatRow, job)
    if row is not None:
        row.running, row.last_finished, row.last_error = False, now, error


def list_heartbeats(session: Session) -> list[Heartbeat]:
    rows = session.scalars(select(WorkerHeartbeatRow).order_by(WorkerHeartbeatRow.job))
    return [Heartbeat(r.job, r.interval, r.running, r.pid, r.host, r.last_started, r.last_finished, r.last_error)
            for r in rows]
