"""Planning: turn each due subscriber's unsent matches into one outbox row (the idempotency key)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from bot.digest.timing import due_period
from bot.jobs.learn import Learner
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
    learned: int = 0  # readers whose votes ordered their digest (and may add suggestions to it)


PEOPLE_PER_COMMIT = 1000  # digests planned (and their matches linked) per transaction
FIRST_GROUP = 100  # the first transaction is smaller: senders start sooner (its commit wakes them)


RECENT_DAYS = 3  # PAPERPOST_RECENT_DAYS's default: the papers suggestions come from


def plan_digests(db: Database, now: datetime, *, ignore_hour: bool = False, only_subscriber: int | None = None,
                 stale_after: timedelta = STALE_AFTER, learn: bool = True, recent_days: int = RECENT_DAYS,
                 group: int = PEOPLE_PER_COMMIT, on_commit: Callable[[], None] | None = None) -> PlanReport:
    """Queue the email digests due at `now`, each linked to the matches it carries.

    Digests left unsent for longer than `stale_after` are dropped first, so their
    matches roll into the digest planned now (or the next one). Digests are planned
    `group` (PEOPLE_PER_COMMIT) at a time (the first group FIRST_GROUP), each group in one transaction with its matches linked
    in the database: a crash between groups leaves whole digests, and planning again
    makes only the missing ones (the outbox key). On PostgreSQL each commit wakes the
    senders (NOTIFY, sent by outbox.plan_many), so sending starts with the first group;
    `on_commit()` runs after each group's commit (a sender in this process may start then).
    Just before a group's matches are linked, the learn step (bot/jobs/learn.py; `learn`)
    scores the matches of its readers who voted and stores their suggestions, which are
    linked with the rest: the digest is then the same on every send attempt.
    """
    nothing_new = not_due = 0
    with db.session() as session:
        stale = drop_stale_digests(session, now, stale_after)
        people = subscribers.email_schedules(session, only_subscriber)  # the email digest; a bouncing address gets none
        waiting = matches.subscribers_with_unsent(session, CHANNEL)
    due: list[tuple[int, str]] = []
    periods: dict[tuple[str, int, int, str], str | None] = {}  # people share schedules: one time-zone sum each
    for person in people:
        schedule = (person.frequency, person.weekday, person.hour, person.tz)
        if schedule not in periods:
            periods[schedule] = due_period(person, now, ignore_hour=ignore_hour)
        period = periods[schedule]
        if period is None:
            not_due += 1
        elif person.id not in waiting and not person.send_empty:
            nothing_new += 1
        else:
            due.append((person.id, period))
    planned = learned = 0
    learner = Learner(now, recent_days) if learn else None
    for start, end in _groups(len(due), group):
        with db.session() as session:
            created = outbox.plan_many(session, due[start:end], CHANNEL, "digest", now)
            if learner is not None:
                learned += learner.learn(session, sorted(created)).readers
            matches.attach_unsent(session, sorted(created.values()), CHANNEL)
        planned += len(created)
        if created and on_commit is not None:
            on_commit()
    # this period's digest exists already: new matches wait for the next one
    return PlanReport(planned, nothing_new, not_due, len(due) - planned, stale, learned)


def _groups(count: int, size: int) -> Iterator[tuple[int, int]]:
    """(start, end) of each group of `count` people: the first of at most FIRST_GROUP, then `size` at a time."""
    start, step = 0, min(size, FIRST_GROUP)
    while start < count:
        yield start, min(start + step, count)
        start, step = start + step, size


def drop_stale_digests(session: Session, now: datetime, max_age: timedelta) -> int:
    """Drop digests not sent within `max_age`; their matches go back to the pool for the next digest."""
    ids = outbox.drop_stale(session, now, max_age)
    matches.release_many(session, ids)
    return len(ids)
