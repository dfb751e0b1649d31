"""Planning: turn each due subscriber's unsent matches into one outbox row (the idempotency key)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.schedule import due_period
from bot.store import Database, matches, outbox, subscribers


@dataclass(frozen=True)
class PlanReport:
    planned: int = 0  # digests queued now
    nothing_new: int = 0  # due, but no new matches (and no "nothing today" mail asked for)
    not_due: int = 0  # before their hour or day
    already: int = 0  # this period's digest exists already


def plan_digests(db: Database, now: datetime, *, ignore_hour: bool = False, only_email: str | None = None) -> PlanReport:
    """Queue the digests due at `now`, each with the matches it carries, in one transaction."""
    planned = nothing_new = not_due = already = 0
    with db.session() as session:
        if only_email is not None:
            one = subscribers.find_subscriber(session, only_email)
            people = [one] if one is not None and one.status == "active" else []
        else:
            people = subscribers.list_subscribers(session, status="active")
        for person in people:
            period = due_period(person, now, ignore_hour=ignore_hour)
            if period is None:
                not_due += 1
                continue
            match_ids = matches.unsent_match_ids(session, person.id)
            if not match_ids and not person.send_empty:
                nothing_new += 1
                continue
            outbox_id = outbox.plan(session, person.id, "email", "digest", period, now)
            if outbox_id is None:
                already += 1  # new matches wait for the next period
                continue
            matches.attach_to_outbox(session, match_ids, outbox_id)
            planned += 1
    return PlanReport(planned, nothing_new, not_due, already)
