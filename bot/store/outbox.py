"""The outbox: one row per message to deliver, the single source of truth for delivery.

States: queued -> sending (claimed by an owner, with a lease) -> sent | failed | dropped.
A failed row with `next_attempt_at` set is retried then; without it, it is final.
A `sending` row is claimed again when its lease ran out or its owner is known dead.
Every result write is fenced: it changes the row only while the writer still owns it
(`owner_id` is the writer and the row is `sending`), and says whether it did.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, bindparam, false, func, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from bot.store.schema import OutboxRow, SubscriberRow

NOTIFY_CHANNEL = "paperpost_outbox"  # PostgreSQL LISTEN/NOTIFY: queued rows wake the senders (payload: the channel)


@dataclass(frozen=True)
class OutboxItem:
    id: int
    subscriber_id: int
    email: str | None
    channel: str
    kind: str
    period: str
    state: str
    attempts: int
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None
    subject: str | None
    owner_id: int | None = None
    taken_over: bool = False  # claimed from a sender that stopped (dead owner or lease run out)


def _item(row: OutboxRow, email: str | None, taken_over: bool = False) -> OutboxItem:
    return OutboxItem(row.id, row.subscriber_id, email, row.channel, row.kind, row.period, row.state,
                      row.attempts, row.last_error, row.created_at, row.sent_at, row.subject, row.owner_id, taken_over)


def notify_queued(session: Session, channel: str) -> None:
    """Wake the senders when this transaction commits (PostgreSQL NOTIFY; nothing to do on SQLite)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_notify(:name, :channel)"), {"name": NOTIFY_CHANNEL, "channel": channel})


def plan(session: Session, subscriber_id: int, channel: str, kind: str, period: str, now: datetime) -> int | None:
    """Queue one message; None when that (subscriber, channel, kind, period) already exists."""
    exists = session.scalar(select(OutboxRow.id).where(
        OutboxRow.subscriber_id == subscriber_id, OutboxRow.channel == channel,
        OutboxRow.kind == kind, OutboxRow.period == period))
    if exists is not None:
        return None
    created = _insert_new(session, [{"subscriber_id": subscriber_id, "channel": channel, "kind": kind,
                                     "period": period, "state": "queued", "attempts": 0, "created_at": now}])
    if not created:
        return None  # another planner got there first: the unique key is the idempotency key
    notify_queued(session, channel)
    return created[subscriber_id]


def _insert_new(session: Session, values: list[dict[str, object]]) -> dict[int, int]:
    """INSERT the rows whose outbox key is free (ON CONFLICT DO NOTHING); {subscriber id: new id} of those inserted.

    Not a SAVEPOINT around a plain INSERT: on SQLite, Python's driver has not begun a transaction
    while only SELECTs ran, so SQLite takes the SAVEPOINT for a transaction of its own and its
    RELEASE commits the rows at once, before the matches the caller links to them in the same
    transaction (a sender in another process then took digests that carried nothing).
    """
    dialect = session.get_bind().dialect.name
    make = sqlite_insert if dialect == "sqlite" else postgresql_insert
    statement = make(OutboxRow).values(values).on_conflict_do_nothing(
        index_elements=["subscriber_id", "channel", "kind", "period"])
    rows = session.execute(statement.returning(OutboxRow.subscriber_id, OutboxRow.id))
    return {subscriber_id: outbox_id for subscriber_id, outbox_id in rows}


def _claimable(now: datetime, dead_owners: Collection[int] = ()):  # type: ignore[no-untyped-def]
    taken_over = or_(OutboxRow.lease_until.is_(None), OutboxRow.lease_until < now)
    if dead_owners:
        taken_over = or_(taken_over, OutboxRow.owner_id.in_(sorted(dead_owners)))
    return or_(
        OutboxRow.state == "queued",
        and_(OutboxRow.state == "failed", OutboxRow.next_attempt_at.is_not(None), OutboxRow.next_attempt_at <= now),
        and_(OutboxRow.state == "sending", taken_over),
    )


def _of_kinds(kinds: Collection[tuple[str, str]] | None):  # type: ignore[no-untyped-def]
    """Rows of these (channel, kind) pairs only (None: every row)."""
    if kinds is None:
        return None
    if not kinds:
        return false()
    return or_(*(and_(OutboxRow.channel == channel, OutboxRow.kind == kind) for channel, kind in sorted(kinds)))


def claim(session: Session, now: datetime, *, owner_id: int, kinds: Collection[tuple[str, str]] | None = None,
          dead_owners: Collection[int] = (), lease_seconds: int = 60, limit: int = 100,
          only_subscriber: int | None = None) -> list[OutboxItem]:
    """Take up to `limit` deliverable rows for `owner_id`, leased until now + lease_seconds.

    Deliverable: queued; failed with its retry time come; sending with the lease run out
    or held by one of `dead_owners` (taken over at once: `taken_over` on the item).
    `kinds` limits the claim to the (channel, kind) pairs the caller can compose: a
    kind it cannot write stays queued for a process that can.
    """
    candidates = select(OutboxRow.id, OutboxRow.state).where(_claimable(now, dead_owners))
    if kinds is not None:
        candidates = candidates.where(_of_kinds(kinds))
    if only_subscriber is not None:
        candidates = candidates.where(OutboxRow.subscriber_id == only_subscriber)
    candidates = candidates.order_by(OutboxRow.id).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    for _ in range(_CLAIM_TRIES):
        found = session.execute(candidates).all()
        if not found:
            return []
        was_sending = {row_id for row_id, state in found if state == "sending"}
        # The WHERE checks again: on SQLite another process may have claimed a row since the SELECT. If it took
        # them all, look again (now inside our write transaction, which sees its claim): rows may remain.
        claimed_ids = list(session.scalars(
            update(OutboxRow).where(OutboxRow.id.in_([row_id for row_id, _ in found]), _claimable(now, dead_owners))
            .values(state="sending", owner_id=owner_id, lease_until=now + timedelta(seconds=lease_seconds),
                    attempts=OutboxRow.attempts + 1)
            .returning(OutboxRow.id)
        ))
        if claimed_ids:
            return get_items(session, claimed_ids, taken_over=was_sending)
    return []


_CLAIM_TRIES = 3  # SELECT then UPDATE races other senders on SQLite; the second look runs in our write lock


def renew(session: Session, owner_id: int, now: datetime, lease_seconds: int) -> int:
    """Extend the lease of every row `owner_id` holds in `sending`; how many."""
    result = session.execute(update(OutboxRow).where(OutboxRow.owner_id == owner_id, OutboxRow.state == "sending")
                             .values(lease_until=now + timedelta(seconds=lease_seconds)))
    return result.rowcount or 0  # type: ignore[attr-defined]


def count_held(session: Session, now: datetime, *, owner_id: int, dead_owners: Collection[int] = (),
               only_subscriber: int | None = None) -> int:
    """Rows in `sending` under another owner that is alive (not dead, lease running): being sent elsewhere."""
    query = select(func.count()).select_from(OutboxRow).where(
        OutboxRow.state == "sending", OutboxRow.owner_id.is_not(None), OutboxRow.owner_id != owner_id,
        OutboxRow.lease_until >= now)
    if dead_owners:
        query = query.where(OutboxRow.owner_id.not_in(sorted(dead_owners)))
    if only_subscriber is not None:
        query = query.where(OutboxRow.subscriber_id == only_subscriber)
    return session.scalar(query) or 0


def get_items(session: Session, ids: Sequence[int], *, taken_over: Collection[int] = ()) -> list[OutboxItem]:
    if not ids:
        return []
    rows = session.execute(select(OutboxRow, SubscriberRow.email).join(SubscriberRow).where(OutboxRow.id.in_(list(ids)))
                           .order_by(OutboxRow.id))
    return [_item(row, email, row.id in taken_over) for row, email in rows]


def _owned(outbox_id: int, owner_id: int):  # type: ignore[no-untyped-def]
    """The fence of every result write: the row is still the writer's claim."""
    return and_(OutboxRow.id == outbox_id, OutboxRow.owner_id == owner_id, OutboxRow.state == "sending")


# Built once: the sender runs it once per message, and building an UPDATE costs more than running it.
_MARK_SENT = (update(OutboxRow).where(OutboxRow.id == bindparam("row_id"), OutboxRow.owner_id == bindparam("me"),
                                      OutboxRow.state == "sending")
              .values(state="sent", sent_at=bindparam("sent_now", type_=OutboxRow.sent_at.type), lease_until=None,
                      last_error=None, subject=func.coalesce(bindparam("new_subject"), OutboxRow.subject)))


def mark_sent(session: Session, outbox_id: int, owner_id: int, now: datetime, subject: str | None = None) -> bool:
    """Record `sent`; False (nothing written) when the row is no longer `owner_id`'s claim."""
    result = session.connection().execute(_MARK_SENT, {"row_id": outbox_id, "me": owner_id, "sent_now": now,
                                                       "new_subject": subject or None})
    return result.rowcount == 1


def mark_failed(session: Session, outbox_id: int, owner_id: int, error: str, retry_at: datetime | None) -> bool:
    """Record a failure; `retry_at` None means final. False (nothing written) when the row is not `owner_id`'s."""
    result = session.execute(update(OutboxRow).where(_owned(outbox_id, owner_id))
                             .values(state="failed", last_error=error, next_attempt_at=retry_at, lease_until=None))
    return result.rowcount == 1  # type: ignore[attr-defined]


def release(session: Session, outbox_id: int, owner_id: int, error: str | None = None) -> bool:
    """Give a claimed row back untouched (queued, the claim's attempt not counted), with why it waits."""
    values: dict[str, object] = {"state": "queued", "lease_until": None, "attempts": OutboxRow.attempts - 1}
    if error:
        values["last_error"] = error
    result = session.execute(update(OutboxRow).where(_owned(outbox_id, owner_id)).values(**values))
    return result.rowcount == 1  # type: ignore[attr-defined]


def mark_dropped(session: Session, outbox_id: int, owner_id: int, reason: str) -> bool:
    """Record `dropped` (nothing to send any more); False when the row is not `owner_id`'s."""
    result = session.execute(update(OutboxRow).where(_owned(outbox_id, owner_id))
                             .values(state="dropped", last_error=reason, lease_until=None, next_attempt_at=None))
    return result.rowcount == 1  # type: ignore[attr-defined]


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


def count_claimable(session: Session, now: datetime, *, kinds: Collection[tuple[str, str]] | None = None,
                    dead_owners: Collection[int] = (), only_subscriber: int | None = None) -> int:
    """How many rows a sender could claim now (the progress bar's total)."""
    query = select(func.count()).select_from(OutboxRow).where(_claimable(now, dead_owners))
    if kinds is not None:
        query = query.where(_of_kinds(kinds))
    if only_subscriber is not None:
        query = query.where(OutboxRow.subscriber_id == only_subscriber)
    return session.scalar(query) or 0


def drop_stale(session: Session, now: datetime, max_age: timedelta, *, kind: str = "digest") -> list[int]:
    """Drop the unsent rows of `kind` planned before now - max_age; returns their ids (to release their matches)."""
    stale = _claimable(now)  # never a row a live sender is holding: it records the row itself
    ids = list(session.scalars(
        update(OutboxRow).where(OutboxRow.kind == kind, OutboxRow.created_at < now - max_age,
                                OutboxRow.state.in_(("queued", "failed", "sending")), stale)
        .values(state="dropped", lease_until=None, next_attempt_at=None,
                last_error=f"stale: not sent within {max_age.total_seconds() / 3600:g} h; its papers go into the next digest")
        .returning(OutboxRow.id)
    ))
    return ids


def plan_many(session: Session, wanted: list[tuple[int, str]], channel: str, kind: str, now: datetime) -> dict[int, int]:
    """Queue one message per (subscriber, period) not queued before; {subscriber id: new outbox id}.

    The planner's bulk path: one query for the keys that exist, one multi-row
    INSERT for the rest (a key another planner took meanwhile is skipped by the database).
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
    created: dict[int, int] = {}
    for start in range(0, len(fresh), 100):  # 7 values a row: under every backend's bound-parameter limit
        created.update(_insert_new(session, [
            {"subscriber_id": s, "channel": channel, "kind": kind, "period": p, "state": "queued", "attempts": 0,
             "created_at": now} for s, p in fresh[start:start + 100]]))
    if created:
        notify_queued(session, channel)
    return created
