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
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
import threading

from bot.app import App
from bot.jobs.alerts import AlertPlan, plan_alerts
from bot.jobs.liveness import registered
from bot.jobs.match import MatchReport, match_pending
from bot.jobs.plan import PEOPLE_PER_COMMIT, PlanReport, plan_digests
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
              now: datetime | None = None, on_commit: Callable[[], None] | None = None,
              group: int = PEOPLE_PER_COMMIT) -> PlanReport:
    """Queue the digests due now (`only`: one subscriber id), dropping those older than PAPERPOST_STALE_HOURS;
    readers who voted get their learned order and suggestions from the papers of PAPERPOST_RECENT_DAYS.
    `on_commit()` runs after each group of `group` digests is committed."""
    return plan_digests(app.db, now or app.clock(), ignore_hour=ignore_hour, only_subscriber=only,
                        stale_after=stale_after(app), recent_days=app.config["PAPERPOST_RECENT_DAYS"],
                        group=group, on_commit=on_commit)


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


def plan_and_send(app: App, owner: Owner, *, ignore_hour: bool = False, only: int | None = None,
                  on_progress: Callable[[OutboxItem, str], None] | None = None,
                  group: int = PEOPLE_PER_COMMIT, on_commit: Callable[[], None] | None = None
                  ) -> tuple[PlanReport, SendReport]:
    """Plan the due digests and send them as `owner` while planning goes on: sending starts with the first group.

    A sending thread runs a send pass whenever a group of digests has been committed (a digest
    is committed with its matches linked, so nothing is sent half planned), and one last pass
    once planning has ended, which sees every digest planned. Claims and leases keep each row
    to one delivery, as between processes. When the mail server is unreachable (rows handed
    back), the thread waits for that last pass instead of trying again per group.
    `on_commit()` runs in the planner after each group's commit, once the sender has been woken.
    """
    committed = threading.Event()
    planned = threading.Event()
    passes: list[SendReport] = []
    failure: list[BaseException] = []

    def send_while_planning() -> None:
        try:
            while True:
                committed.wait()
                committed.clear()
                last = planned.is_set()  # read before the pass: a last pass starts after the last commit
                if last or not (passes and passes[-1].deferred):
                    passes.append(send_step(app, owner, only_subscriber=only, on_progress=on_progress))
                if last:
                    return
        except BaseException as exc:  # noqa: BLE001 - raised in the caller's thread
            failure.append(exc)

    sender = threading.Thread(target=send_while_planning, name="send-while-planning", daemon=True)
    sender.start()
    try:
        def wake() -> None:
            committed.set()
            if on_commit is not None:
                on_commit()

        report = plan_step(app, ignore_hour=ignore_hour, only=only, on_commit=wake, group=group)
    finally:
        planned.set()
        committed.set()
        sender.join()
    if failure:
        raise failure[0]
    return report, _summed(passes)


def _summed(passes: list[SendReport]) -> SendReport:
    """One report for several send passes: counts added; what is left queued or held, as the last pass saw it."""
    total = {f.name: sum(getattr(p, f.name) for p in passes) for f in fields(SendReport)}
    last = passes[-1] if passes else SendReport()
    return SendReport(**{**total, "deferred": last.deferred, "held_by_live": last.held_by_live})


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
