"""Subscribers and their interests in the database."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.models import Subscriber, SubscriberInput
from bot.store.schema import InterestRow, SubscriberRow

Outcome = Literal["created", "updated", "unchanged"]


def to_subscriber(row: SubscriberRow) -> Subscriber:
    return Subscriber(
        id=row.id, email=row.email, status=row.status, interests=tuple(i.text for i in row.interests),
        frequency=row.frequency, hour=row.hour, tz=row.tz, weekday=row.weekday,
        telegram_chat_id=row.telegram_chat_id, send_empty=row.send_empty,
    )


def normalise_email(email: str) -> str:
    """Addresses are compared case-insensitively (the domain always is; local parts in practice)."""
    return email.strip().lower()


def find_row(session: Session, email: str) -> SubscriberRow | None:
    return session.scalar(select(SubscriberRow).where(SubscriberRow.email == normalise_email(email)))


def get_subscriber(session: Session, subscriber_id: int) -> Subscriber | None:
    row = session.get(SubscriberRow, subscriber_id)
    return None if row is None else to_subscriber(row)


def find_subscriber(session: Session, email: str) -> Subscriber | None:
    row = find_row(session, email)
    return None if row is None else to_subscriber(row)


def save_subscriber(session: Session, data: SubscriberInput, status: str, now: datetime) -> tuple[Subscriber, Outcome]:
    """Create the subscriber or bring an existing one in line with `data` (idempotent)."""
    row = find_row(session, data.email)
    if row is None:
        row = SubscriberRow(email=normalise_email(data.email), status=status, created_at=now,
                            confirmed_at=now if status == "active" else None)
        session.add(row)
        outcome: Outcome = "created"
    else:
        outcome = "unchanged"
    changed = _apply(row, data)
    # An existing subscriber keeps their status: a re-import never resubscribes
    # someone who left or un-pauses someone who paused; it only vouches for a pending one.
    if outcome == "unchanged" and row.status == "pending" and status == "active":
        row.status, row.confirmed_at, changed = "active", now, True
    if changed and outcome == "unchanged":
        outcome = "updated"
    if outcome != "unchanged":
        row.profile_changed_at = now
    session.flush()
    return to_subscriber(row), outcome


def _apply(row: SubscriberRow, data: SubscriberInput) -> bool:
    changed = False
    for name in ("frequency", "hour", "tz", "weekday", "telegram_chat_id"):
        value = getattr(data, name)
        if getattr(row, name) != value:
            setattr(row, name, value)
            changed = True
    if [i.text for i in row.interests] != list(data.interests):
        row.interests = [InterestRow(position=n, text=text) for n, text in enumerate(data.interests)]
        changed = True
    return changed


def set_status(session: Session, subscriber_id: int, status: str, now: datetime) -> Subscriber | None:
    row = session.get(SubscriberRow, subscriber_id)
    if row is None:
        return None
    if row.status != status:
        row.status = status
        if status == "active":
            row.confirmed_at = row.confirmed_at or now
            row.profile_changed_at = now
    return to_subscriber(row)


def remove_subscriber(session: Session, email: str) -> bool:
    """Delete a subscriber and everything of theirs; False when there was none."""
    row = find_row(session, email)
    if row is None:
        return False
    session.delete(row)
    return True


def list_subscribers(session: Session, status: str | None = None) -> list[Subscriber]:
    query = select(SubscriberRow).order_by(SubscriberRow.id)
    if status is not None:
        query = query.where(SubscriberRow.status == status)
    return [to_subscriber(row) for row in session.scalars(query)]


def active_profiles(session: Session) -> list[tuple[int, tuple[str, ...]]]:
    """(subscriber id, interests) of everyone whose papers are being collected (active or paused)."""
    rows = session.scalars(select(SubscriberRow).where(SubscriberRow.status.in_(("active", "paused"))))
    return [(row.id, tuple(i.text for i in row.interests)) for row in rows]


def profiles_needing_backfill(session: Session) -> list[tuple[int, tuple[str, ...]]]:
    """Active profiles that are new or changed since they were last run over the recent papers."""
    rows = session.scalars(select(SubscriberRow).where(
        SubscriberRow.status.in_(("active", "paused")),
        (SubscriberRow.matched_at.is_(None)) | (SubscriberRow.profile_changed_at > SubscriberRow.matched_at),
    ))
    return [(row.id, tuple(i.text for i in row.interests)) for row in rows]


def mark_backfilled(session: Session, subscriber_ids: list[int], now: datetime) -> None:
    for subscriber_id in subscriber_ids:
        row = session.get(SubscriberRow, subscriber_id)
        if row is not None:
            row.matched_at = now
