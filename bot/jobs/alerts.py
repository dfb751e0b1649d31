"""Planning Telegram alerts: every new match of a chat in instant mode becomes an outbox row on "telegram".

Up to GROUP_OVER new matches of one chat in one cycle are one alert each; more are one
grouped message. During a subscriber's quiet hours their matches wait (held), and
when the hours end everything held goes as one message. Daily-mode chats get one
`digest` row a day at their hour. Rows are created in rounds (the first alert of every
chat, then the second...), so consecutive rows are different chats and the senders'
threads never queue behind one chat's 1-per-second pace. A match is linked to its row in
the same transaction that creates it: planning twice never alerts twice.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from bot.digest.timing import due_period, local_time
from bot.models import Subscriber
from bot.store import Database, matches, outbox, subscribers

CHANNEL = "telegram"
GROUP_OVER = 5


@dataclass(frozen=True)
class AlertPlan:
    alerts: int = 0  # rows of one paper
    grouped: int = 0  # rows of several papers (more than GROUP_OVER, or released after quiet hours)
    held: int = 0  # chats whose matches wait for the end of their quiet hours
    daily: int = 0  # daily-mode messages queued


def in_quiet_hours(person: Subscriber, now: datetime) -> bool:
    """Local hour within [quiet_start, quiet_end) (the span may cross midnight); False without quiet hours."""
    start, end = person.quiet_start, person.quiet_end
    if start is None or end is None or start == end:
        return False
    hour = local_time(person, now).hour
    return start <= hour < end if start < end else hour >= start or hour < end


def plan_alerts(db: Database, now: datetime) -> AlertPlan:
    """Queue the Telegram messages the new matches call for (one transaction); what was queued."""
    stamp = now.strftime("%Y%m%dT%H%M%S")
    rounds: list[list[tuple[int, str, list[int]]]] = []  # round k: the k-th row of each chat
    alerts = grouped = 0
    with db.session() as session:
        chats = subscribers.telegram_recipients(session, "instant")
        waiting = matches.unsent_match_ids_by_subscriber(session, [c.person.id for c in chats], CHANNEL)
        hold, release = [], []
        for chat in chats:
            ids = [i for i in waiting.get(chat.person.id, []) if i >= chat.from_match]
            if not ids:
                continue
            if in_quiet_hours(chat.person, now):
                if not chat.held:
                    hold.append(chat.person.id)
                continue
            if chat.held or len(ids) > GROUP_OVER:
                rows = [(chat.person.id, f"{stamp}#g{ids[0]}", ids)]
                grouped += 1
                if chat.held:
                    release.append(chat.person.id)
            else:
                rows = [(chat.person.id, f"{stamp}#{i}", [i]) for i in ids]
                alerts += len(rows)
            for k, row in enumerate(rows):
                if k == len(rounds):
                    rounds.append([])
                rounds[k].append(row)
        for batch in rounds:
            created = outbox.plan_many(session, [(s, p) for s, p, _ in batch], CHANNEL, "alert", now)
            carried = {s: ids for s, _, ids in batch}
            matches.attach_many(session, {o: carried[s] for s, o in created.items()}, CHANNEL)
        subscribers.set_telegram_held(session, hold, True)
        subscribers.set_telegram_held(session, release, False)
        daily = _plan_daily(session, now)
    return AlertPlan(alerts, grouped, len(hold), daily)


def _plan_daily(session, now: datetime) -> int:  # type: ignore[no-untyped-def]
    """One `digest` row per daily-mode chat whose hour has come and that has new matches."""
    chats = subscribers.telegram_recipients(session, "daily")
    waiting = matches.unsent_match_ids_by_subscriber(session, [c.person.id for c in chats], CHANNEL)
    due: list[tuple[int, str]] = []
    carried: dict[int, list[int]] = {}
    for chat in chats:
        ids = [i for i in waiting.get(chat.person.id, []) if i >= chat.from_match]
        period = due_period(replace(chat.person, frequency="daily"), now)
        if ids and period is not None:
            due.append((chat.person.id, period))
            carried[chat.person.id] = ids
    created = outbox.plan_many(session, due, CHANNEL, "digest", now)
    matches.attach_many(session, {o: carried[s] for s, o in created.items()}, CHANNEL)
    return len(created)
