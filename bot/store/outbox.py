"""The outbox: one row per message to deliver, the single source of truth for delivery.

States: queued -> sending (claimed with a lease) -> sent | failed | dropped.
A failed row with `next_attempt_at` set is retried then; without it, it is final.
A `sending` row whose lease ran out (its sender died) is claimed again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, bindparam, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.store.schema import OutboxRow, SubscriberRow


@dataclass(frozen=True)
class OutboxItem:
    id: int
    subscriber_id: int
    email: str
    channel: str
    kind: str
    period: str
    state: str
    attempts: int
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None
    subject: str | None


def _item(row: OutboxRow, email: str) -> OutboxItem:
    return OutboxItem(row.id, row.subscriber_id, email, row.channel, row.kind, row.period, row.state,
                      row.attempts, row.last_error, row.created_at, row.sent_at, row.subject)


def plan(session: Session, subscriber_id: int, channel: str, kind: str, period: str, now: datetime) -> int | None:
    """Queue one message; None when that (subscriber, channel, kind, period) already exists."""
    exists = session.scalar(select(OutboxRow.id).where(
        OutboxRow.subscriber_id == subscriber_id, OutboxRow.channel == channel,
        OutboxRow.kind == kind, OutboxRow.period == period))
    if exists is not None:
        return None
    row = OutboxRow(subscriber_id=subscriber_id, channel=channel, kind=kind, period=period,
                    state="queued", attempts=0, created_at=now)
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:  # another planner got there first: the unique key is the idempotency key
        return None
    return row.id


def _claimable(now: datetime):  # type: ignore[no-untyped-def]
    return or_(
        OutboxRow.state == "queued",
        and_(OutboxRow.state == "failed", OutboxRow.next_attempt_at.is_not(None), OutboxRow.next_attempt_at <= now),
        and_(OutboxRow.state == "sending", OutboxRow.lease_until < now),
    )


def claim(session: Session, now: datetime, *, lease_seconds: int = 300, limit: int = 100,
          channel: str = "email", only_subscriber: int | None = None) -> list[OutboxItem]:
    """Take up to `limit` deliverable rows for this sender, leased until now + lease_seconds."""
    candidates = select(OutboxRow.id).where(_claimable(now), OutboxRow.channel == channel)
    if only_subscriber is not None:
        candidates = candidates.where(OutboxRow.subscriber_id == only_subscriber)
    candidates = candidates.order_by(OutboxRow.id).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    claimed_ids = list(session.scalars(
        update(OutboxRow).where(OutboxRow.id.in_(candidates.scalar_subquery()), _claimable(now))
        .values(state="sending", lease_until=now + timedelta(seconds=lease_seconds), attempts=OutboxRow.attempts + 1)
        .returning(OutboxRow.id)
    ))
    return get_items(session, claimed_ids)


def get_items(session: Session, ids: list[int]) -> list[OutboxItem]:
    if not ids:
        return []
    rows = session.execute(select(OutboxRow, SubscriberRow.email).join(SubscriberRow).where(OutboxRow.id.in_(ids)).order_by(OutboxRow.id))
    return [_item(row, email) for row, email in rows]


# Built once: the sender runs it once per message, and building an UPDATE costs more than running it.
_MARK_SENT = (update(OutboxRow).where(OutboxRow.id == bindparam("row_id"))
              .values(state="sent", sent_at=bindparam("sent_now", type_=OutboxRow.sent_at.type), lease_until=None,
                      last_error=None, subject=func.coalesce(bindparam("new_subject"), OutboxRow.subject)))


def mark_sent(session: Session, outbox_id: int, now: datetime, subject: str | None = None) -> None:
    session.connection().execute(_MARK_SENT, {"row_id": outbox_id, "sent_now": now, "new_subject": subject or None})


def mark_failed(session: Session, outbox_id: int, error: str, retry_at: datetime | None) -> None:
    """Record a failure; `retry_at` None means final (permanent error or too many attempts)."""
    row = session.get(OutboxRow, outbox_id)
    if row is not None:
        row.state, row.last_error, row.next_attempt_at, row.lease_until = "failed", error, retry_at, None


def release(session: Session, outbox_ids: list[int]) -> None:
    """Give claimed rows back untouched (clean shutdown before sending them)."""
    session.execute(update(OutboxRow).where(OutboxRow.id.in_(outbox_ids), OutboxRow.state == "sending")
                    .values(state="queued", lease_until=None, attempts=OutboxRow.attempts - 1))


def mark_dropped(session: Session, outbox_id: int, reason: str) -> None:
    row = session.get(OutboxRow, outbox_id)
    if row is not None:
        row.state, row.last_error, row.lease_until, row.next_attempt_at = "dropped", reason, None, None


def list_outbox(session: Session, *, failed_only: bool = False, limit: int | None = None) -> list[OutboxItem]:
    query = select(OutboxRow, SubscriberRow.email).join(SubscriberRow).order_by(OutboxRow.id.desc())
    if failed_only:
        query = query.where(OutboxRow.state == "failed")
    if limit:
        query = query.limit(limit)
    return [_item(row, email) for row, email in session.execute(query)]


def latest_sent_digest(session: Session, subscriber_id: int) -> OutboxItem | None:
    row = session.execute(select(OutboxRow, SubscriberRow.email).join(SubscriberRow).where(
        OutboxRow.subscriber_id == subscriber_id, OutboxRow.kind == "digest", OutboxRow.channel == "email",
        OutboxRow.state.in_(("sent", "queued", "sending", "failed"))).order_by(OutboxRow.id.desc()).limit(1)).first()
    return None if row is None else _item(row[0], row[1])


def backlog(session: Session) -> dict[str, int]:
    """Count of rows per state."""
    return {state: count for state, count in session.execute(select(OutboxRow.state, func.count()).group_by(OutboxRow.state))}


def drop_waiting(session: Session, subscriber_id: int, reason: str) -> list[int]:
    """Drop a subscriber's rows that wait to be sent (queued, or failed with a retry); their ids.

    Rows being sent right now are left alone: their composer checks the subscriber again.
    """
    waiting = or_(OutboxRow.state == "queued", and_(OutboxRow.state == "failed", OutboxRow.next_attempt_at.is_not(None)))
    ids = list(session.scalars(update(OutboxRow).where(OutboxRow.subscriber_id == subscriber_id, waiting)
                               .values(state="dropped", last_error=reason, next_attempt_at=None, lease_until=None)
                               .returning(OutboxRow.id)))
    return ids


def expire_leases(session: Session, now: datetime) -> list[OutboxItem]:
    """End the lease of every row left `sending` by a process that died, so it is claimed again at once.

    Only a process that knows it is the single sender may call this (the worker, holding the planner lock):
    a live sender's lease must run its course.
    """
    ids = list(session.scalars(update(OutboxRow).where(OutboxRow.state == "sending")
                               .values(lease_until=now).returning(OutboxRow.id)))
    return get_items(session, ids)


def count_claimable(session: Session, now: datetime, *, channel: str = "email", only_subscriber: int | None = None) -> int:
    """How many rows a sender could claim now (the progress bar's total)."""
    query = select(func.count()).select_from(OutboxRow).where(_claimable(now), OutboxRow.channel == channel)
    if only_subscriber is not None:
        query = query.where(OutboxRow.subscriber_id == only_subscriber)
    return session.scalar(query) or 0


def drop_stale(session: Session, now: datetime, max_age: timedelta, *, kind: str = "digest") -> list[int]:
    """Drop the unsent rows of `kind` planned before now - max_age; returns their ids (to release their matches)."""
    stale = _claimable(now) | (OutboxRow.state == "sending") & OutboxRow.lease_until.is_(None)
    ids = list(session.scalars(
        update(OutboxRow).where(OutboxRow.kind == kind, OutboxRow.created_at < now - max_age,
                                OutboxRow.state.in_(("queued", "failed", "sending")), stale)
        .values(state="dropped", lease_until=None, next_attempt_at=None,
                last_error=f"stale: not sent within {max_age.total_seconds() / 3600:g} h; its papers go into the next digest")
        .returning(OutboxRow.id)
    ))
    return ids


def note_error(session: Session, outbox_id: int, error: str) -> None:
    """Keep the last error on a row without changing its state (a deferred send says why it waits)."""
    session.execute(update(OutboxRow).where(OutboxRow.id == outbox_id).values(last_error=error))


def plan_many(session: Session, wanted: list[tuple[int, str]], channel: str, kind: str, now: datetime) -> dict[int, int]:
    """Queue one message per (subscriber, period) not queued before; {subscriber id: new outbox id}.

    The planner's bulk path: one query for the keys that exist, one multi-row
    INSERT for the rest. If another planner races us, fall back to `plan` per row.
    """
    if not wanted:
        return {}
    existing: set[tuple[int, str]] = set()
    for start in range(0, len(wanted), 500):
        chunk = wanted[start:start + 500]
        existing.update((s, p) for s, p in session.execute(select(OutboxRow.subscriber_id, OutboxRow.period).where(
            OutboxRow.channel == channel, OutboxRow.kind == kind,
            OutboxRow.subscriber_id.in_([s for s, _ in chunk]))).all())
    fresh = [(s, p) for s, p in wanted if (s, p) not in existing]
    if not fresh:
        return {}
    values = [{"subscriber_id": s, "channel": channel, "kind": kind, "period": p, "state": "queued", "attempts": 0,
               "created_at": now} for s, p in fresh]
    try:
        with session.begin_nested():
            rows = session.execute(insert(OutboxRow).returning(OutboxRow.subscriber_id, OutboxRow.id), values)
            return {subscriber_id: outbox_id for subscriber_id, outbox_id in rows}
    except IntegrityError:
        planned = {s: plan(session, s, channel, kind, p, now) for s, p in fresh}
        return {s: i for s, i in planned.items() if i is not None}
