"""Digest schedules across time zones and daylight-saving changes: at their hour, once per day (or week)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from mailworld import Clock, add_matches, add_people, make_app

from bot.models import Subscriber
from bot.jobs.plan import plan_digests
from bot.digest.timing import due_period
from bot.store import outbox


def simulate(person: Subscriber, start: datetime, days: int, step: timedelta = timedelta(minutes=5)) -> dict[str, datetime]:
    """A planner waking every `step`: the first time each period was planned (the outbox key keeps it once)."""
    planned: dict[str, datetime] = {}
    now = start
    while now < start + timedelta(days=days):
        period = due_period(person, now)
        if period is not None and period not in planned:
            planned[period] = now
        now += step
    return planned


# Each window spans a daylight-saving change in that zone (Kolkata has none: the control).
CASES = [
    ("America/New_York", datetime(2026, 10, 30, tzinfo=timezone.utc)),  # clocks go back on Sun 1 Nov 2026
    ("America/New_York", datetime(2026, 3, 6, tzinfo=timezone.utc)),  # clocks go forward on Sun 8 Mar 2026
    ("Pacific/Auckland", datetime(2026, 9, 24, tzinfo=timezone.utc)),  # forward on Sun 27 Sep 2026
    ("Pacific/Auckland", datetime(2026, 4, 2, tzinfo=timezone.utc)),  # back on Sun 5 Apr 2026
    ("Asia/Kolkata", datetime(2026, 10, 30, tzinfo=timezone.utc)),
]


@pytest.mark.parametrize("zone,start", CASES)
@pytest.mark.parametrize("hour", [0, 2, 7, 23])
def test_daily_digest_at_the_local_hour_once_per_day_across_dst(zone, start, hour):
    person = Subscriber(1, "a@example.org", "active", ("x",), hour=hour, tz=zone)
    planned = simulate(person, start, days=6)
    local_days = [(start + timedelta(days=n)).astimezone(ZoneInfo(zone)).date() for n in range(1, 6)]
    for day in local_days:
        assert day.isoformat() in planned  # every local day has its digest (once: the dict key)
        at = planned[day.isoformat()].astimezone(ZoneInfo(zone))
        assert at.date() == day
        if hour == 2 and at.hour == 3 and at.utcoffset() != (at - timedelta(hours=1)).utcoffset():
            continue  # 02:00 did not exist that night (clocks jumped to 03:00): first moment after it
        assert (at.hour, at.minute) == (hour, 0), (day, at)


def test_weekly_digest_on_its_weekday_once_a_week():
    person = Subscriber(1, "a@example.org", "active", ("x",), frequency="weekly", weekday=4, hour=8,
                        tz="America/New_York")
    monday = datetime(2026, 10, 19, 12, 0, tzinfo=timezone.utc)  # Monday 08:00 in New York
    planned = simulate(person, monday, days=21, step=timedelta(minutes=15))
    local = [at.astimezone(ZoneInfo("America/New_York")) for at in planned.values()]
    assert len(planned) == 3  # one per ISO week, the week of the DST change included
    assert all((at.weekday(), at.hour, at.minute) == (4, 8, 0) for at in local)


def test_the_planner_queues_each_zone_at_its_hour_and_only_once(env):
    start = datetime(2026, 10, 31, 0, 0, tzinfo=timezone.utc)
    clock = Clock(start)
    app = make_app(env, clock)
    people = {zone: add_people(app, 1, prefix=zone.split("/")[1].lower(), tz=zone, hour=7)[0]
              for zone in ("Pacific/Auckland", "Asia/Kolkata", "America/New_York")}
    seen: dict[str, list[tuple[str, datetime]]] = defaultdict(list)
    for tick in range(3 * 24 * 2):  # three days across New York's change on 1 Nov, every 30 minutes
        if tick % 12 == 0:  # new papers every 6 hours: there is always something new at 07:00
            add_matches(app, list(people.values()), tag=f"t{tick}", per_person=1)
        plan_digests(app.db, clock())
        clock.advance(minutes=30)
    with app.db.session() as session:
        for item in outbox.list_outbox(session):
            seen[item.email].append((item.period, item.created_at))
    for zone, person in people.items():
        periods = [period for period, _ in seen[person.email]]
        assert len(periods) == len(set(periods)) >= 2
        for _, created in seen[person.email]:
            if created == start:
                continue  # Auckland's 07:00 had passed when the planner started: caught up at once
            local = created.astimezone(ZoneInfo(zone))
            assert (local.hour, local.minute) == (7, 0), (zone, local)
    app.close()
