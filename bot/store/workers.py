"""The workers table: one row per process that claims work (its host, pid, roles and last heartbeat).

A row says who a worker was; whether it is alive is a lock test (bot.jobs.liveness),
never this table's heartbeat age. `stopped_at` is set when a worker leaves, or when
another worker found its liveness lock free (it died).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.store.schema import WorkerRow


@dataclass(frozen=True)
class WorkerInfo:
    id: int
    host: str
    pid: int
    roles: tuple[str, ...]
    started_at: datetime
    heartbeat_at: datetime
    stopped_at: datetime | None


def _roles_text(roles: Iterable[str]) -> str:
    return ",".join(roles)


def _info(row: WorkerRow) -> WorkerInfo:
    roles = tuple(r for r in row.roles.split(",") if r)
    return WorkerInfo(row.id, row.host, row.pid, roles, row.started_at, row.heartbeat_at, row.stopped_at)


def register(session: Session, host: str, pid: int, roles: Sequence[str], now: datetime) -> int:
    """Add a worker row started and beating at `now`; its id."""
    row = WorkerRow(host=host, pid=pid, roles=_roles_text(roles), started_at=now, heartbeat_at=now)
    session.add(row)
    session.flush()
    return row.id


def beat(session: Session, worker_id: int, now: datetime) -> None:
    """Record that worker `worker_id` was at work at `now`."""
    session.execute(update(WorkerRow).where(WorkerRow.id == worker_id).values(heartbeat_at=now))


def set_roles(session: Session, worker_id: int, roles: Sequence[str]) -> None:
    """Record the roles worker `worker_id` has now (e.g. it became the planner)."""
    session.execute(update(WorkerRow).where(WorkerRow.id == worker_id).values(roles=_roles_text(roles)))


def mark_stopped(session: Session, worker_ids: Iterable[int], now: datetime) -> list[int]:
    """Set `stopped_at` on those of `worker_ids` not stopped yet; the ids that changed."""
    ids = list(worker_ids)
    if not ids:
        return []
    changed = session.scalars(select(WorkerRow.id).where(WorkerRow.id.in_(ids), WorkerRow.stopped_at.is_(None)))
    changed_ids = list(changed)
    if changed_ids:
        session.execute(update(WorkerRow).where(WorkerRow.id.in_(changed_ids)).values(stopped_at=now))
    return changed_ids


def stopped_since(session: Session, since: datetime, *, exclude: int | None = None) -> list[int]:
    """Ids of the workers stopped at or after `since` (but `exclude`), oldest first."""
    query = select(WorkerRow.id).where(WorkerRow.stopped_at >= since).order_by(WorkerRow.id)
    if exclude is not None:
        query = query.where(WorkerRow.id != exclude)
    return list(session.scalars(query))


def get_worker(session: Session, worker_id: int) -> WorkerInfo | None:
    row = session.get(WorkerRow, worker_id)
    return _info(row) if row is not None else None


def list_workers(session: Session, *, include_stopped: bool = True, limit: int | None = None) -> list[WorkerInfo]:
    """Workers, newest first (the stopped ones too unless `include_stopped` is False)."""
    query = select(WorkerRow).order_by(WorkerRow.id.desc())
    if not include_stopped:
        query = query.where(WorkerRow.stopped_at.is_(None))
    if limit is not None:
        query = query.limit(limit)
    return [_info(row) for row in session.scalars(query)]


def live_workers(session: Session, *, beat_since: datetime | None = None) -> list[WorkerInfo]:
    """Workers not known to have stopped, oldest first (a crashed one stays here until someone tests its lock);
    with `beat_since`, only those whose heartbeat came at or after it."""
    query = select(WorkerRow).where(WorkerRow.stopped_at.is_(None))
    if beat_since is not None:
        query = query.where(WorkerRow.heartbeat_at >= beat_since)
    return [_info(row) for row in session.scalars(query.order_by(WorkerRow.id))]
