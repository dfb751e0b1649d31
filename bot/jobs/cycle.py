"""The one place that builds the job's steps: match, plan, alerts, send, and the full cycle (poll -> match -> plan
-> alerts -> send).

The CLI (`paperpost digest`, `paperpost demo`), `run_cycle` and the worker all
call these, so every process matches, plans (with PAPERPOST_STALE_HOURS) and
sends the same way. Sending needs an owner: a registered process
(bot.jobs.liveness). Without one, the step registers this process for its pass.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.app import App
from bot.jobs.alerts import AlertPlan, plan_alerts
from bot.jobs.liveness import registered
from bot.jobs.match import MatchReport, match_pending
from bot.jobs.plan import PlanReport, plan_digests
from bot.jobs.poll import PollReport, poll_sources
from bot.jobs.send import DeliveryPolicy, Owner, SendReport, send_pending
from bot.store.outbox import OutboxItem
from bot.store.sources import Source


@dataclass(frozen=True)
class CycleReport:
    polls: list[PollReport]
    matched: MatchReport
    planned: PlanReport
    sent: SendReport
    alerts: AlertPlan = AlertPlan()


def stale_after(app: App) -> timedelta:
    """How long a planned digest may wait before it is dropped (PAPERPOST_STALE_HOURS)."""
    return timedelta(hours=app.config["PAPERPOST_STALE_HOURS"])


def match_step(app: App) -> MatchReport:
    """Run new papers and new or changed profiles through the index; store the matches."""
    return match_pending(app.db, app.clock(), recent_days=app.config["PAPERPOST_RECENT_DAYS"],
                         trending_top=app.config["PAPERPOST_TRENDING_TOP"])


def plan_step(app: App, *, ignore_hour: bool = False, only: int | None = None,
              now: datetime | None = None) -> PlanReport:
    """Queue the digests due now (`only`: one subscriber id), dropping those older than PAPERPOST_STALE_HOURS;
    readers who voted get their learned order and suggestions from the papers of PAPERPOST_RECENT_DAYS."""
    return plan_digests(app.db, now or app.clock(), ignore_hour=ignore_hour, only_subscriber=only,
                        stale_after=stale_after(app), recent_days=app.config["PAPERPOST_RECENT_DAYS"])


def alert_step(app: App, *, now: datetime | None = None) -> AlertPlan:
    """Queue the Telegram alerts of the new matches (nothing without PAPERPOST_TELEGRAM_TOKEN: no one could send them)."""
    if not app.config["PAPERPOST_TELEGRAM_TOKEN"] and not app.telegram_to_folder:
        return AlertPlan()
    return plan_alerts(app.db, now or app.clock())


@contextmanager
def sender_owner(app: App, owner: Owner | None = None, roles: Sequence[str] = ("send",)) -> Iterator[Owner]:
    """`owner`, or this process registered (liveness lock held) for the length of the block."""
    if owner is not None:
        yield owner
        return
    with registered(app.db, app.config, roles, app.clock) as handle:
        yield handle


def send_step(app: App, owner: Owner | None = None, *, only_subscriber: int | None = None,
              on_progress: Callable[[OutboxItem, str], None] | None = None,
              should_stop: Callable[[], bool] | None = None) -> SendReport:
    """Deliver what the outbox holds on every channel of this process, claiming for `owner`.

    `owner` None: this process registers itself for the pass (and is known dead
    to the others the moment it ends, however it ends).
    """
    channels = app.channels()
    try:
        with sender_owner(app, owner) as claimer:
            return send_pending(app.db, channels, app.mail_context, claimer, only_subscriber=only_subscriber,
                                on_progress=on_progress, should_stop=should_stop,
                                policy=DeliveryPolicy.from_config(app.config))
    finally:
        app.close_channels(channels)


def run_cycle(app: App, owner: Owner | None = None, *, force_poll: bool = False, ignore_hour: bool = False,
              only: int | None = None, source_names: Sequence[str] | None = None,
              on_poll: Callable[[Source], None] | None = None,
              on_send: Callable[[OutboxItem, str], None] | None = None,
              after_poll: Callable[[], None] | None = None) -> CycleReport:
    """Poll the due sources, match what is new, plan the due digests and send them (as `owner`, or registered).

    `after_poll` runs once the papers are stored (the demo records its sample readers' votes there)."""
    with sender_owner(app, owner, roles=("poll", "plan", "send")) as claimer:
        polls = poll_sources(app.db, app.poller, names=source_names, force=force_poll, on_start=on_poll)
        if after_poll is not None:
            after_poll()
        matched = match_step(app)
        planned = plan_step(app, ignore_hour=ignore_hour, only=only)
        alerts = alert_step(app)
        sent = send_step(app, claimer, only_subscriber=only, on_progress=on_send)
    return CycleReport(polls, matched, planned, sent, alerts)
