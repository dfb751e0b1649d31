"""When a subscriber's digest is due (pure): their hour, their time zone, daily or weekly."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol
from zoneinfo import ZoneInfo


class Subscriber(Protocol):
    """What timing reads of a subscriber (bot.models.Subscriber, or the planner's light schedule)."""

    frequency: str
    weekday: int
    hour: int
    tz: str


def local_time(subscriber: Subscriber, now: datetime) -> datetime:
    return now.astimezone(ZoneInfo(subscriber.tz))


def period_of(subscriber: Subscriber, now: datetime) -> str:
    """The digest period `now` falls in: the local date (daily) or the ISO week (weekly)."""
    local = local_time(subscriber, now)
    if subscriber.frequency == "weekly":
        year, week, _ = local.isocalendar()
        return f"{year}-W{week:02d}"
    return local.date().isoformat()


def due_period(subscriber: Subscriber, now: datetime, *, ignore_hour: bool = False) -> str | None:
    """The period whose digest is due at `now`, or None before the subscriber's hour (and day).

    A digest stays due for the rest of its period once its hour has passed, so a
    planner that was down at that hour catches up; the outbox key makes it once.
    """
    if ignore_hour:
        return period_of(subscriber, now)
    local = local_time(subscriber, now)
    if subscriber.frequency == "weekly":
        started = (local.weekday(), local.hour) >= (subscriber.weekday, subscriber.hour)
    else:
        started = local.hour >= subscriber.hour
    return period_of(subscriber, now) if started else None
