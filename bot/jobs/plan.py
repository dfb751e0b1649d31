"""Planning: turn each due subscriber's unsent matches into one outbox row (the idempotency key)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from bot.digest.timing import due_period
from bot.store import Database, matches, outbox, subscribers

STALE_AFTER = timedelta(hours=36)  # PAPERPOST_STALE_HOURS's default; bot/jobs/cycle.py passes the setting
CHANNEL = "email"


@dataclass(frozen=True)
class PlanReport:
    planned: int = 0  # digests queued now
    nothing_new: int = 0  # due, but no new matches (and no "nothing today" mail asked for)
    not_due: int = 0  # before their hour or day
    already: int = 0  # this period's digest exists already
    stale: int = 0  # digests dropped unsent after `stale_after`; their matches came back to the pool


def plan_digests(db: Database, now: datetime, *, ignore_hour: bool = False, only_subscriber: int | None = None,
                 stale_after: timedelta = STALE_AFTER) -> PlanReport:
    """Queue the email digests due at `now`, each linked to the matches it carries, in one transaction.

    Digests left unsent for longer than `stale_after` are dropped first, so their
    matches roll into the digest planned now (or the next one). On PostgreSQL the
    commit wakes the senders (NOTIFY, sent by outbox.plan_many).
    """
    planned = nothing_new = not_due = already = 0
    with db.session() as session:
        stale = drop_stale_digests(session, now, stale_after)
        if only_subscriber is not None:
            one = subscribers.get_subscriber(session, only_subscriber)
            people = [one] if one is not None and one.status == "active" else []
        else:
            people = subscribers.list_subscribers(session, status="active")
        people = [p for p in people if p.email_on]  # the email digest; a bouncing address gets none
        due: list[tuple[int, str]] = []
        waiting = matches.unsent_match_ids_by_subscriber(session, [p.id for p in people], CHANNEL)
        for person in people:
            period = due_period(person, now, ignore_hour=ignore_hour)
            if period is None:
                not_due += 1
            elif not waiting.get(person.id) and not person.send_empty:
                nothing_new += 1
            else:
                due.append((person.id, period))
        created = outbox.plan_many(session, due, CHANNEL, "digest", now)
        already = len(due) - len(created)  # this period's digest exists: new matches wait for the next one
        matches.attach_many(session, {outbox_id: waiting.get(subscriber_id, [])
                                      for subscriber_id, outbox_id in created.items()}, CHANNEL)
        planned = len(created)
    return PlanReport(planned, nothing_new, not_due, already, stale)


def drop_stale_digests(session: Session, now: datetime, max_age: timedelta) -> int:
    """Drop digests not sent within `max_age`; their matches go back to the pool for the next digest."""
    ids = outbox.drop_stale(session, now, max_age)
    matches.release_many(session, ids)
    return len(ids)
