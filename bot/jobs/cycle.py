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
from typing import Protocol

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


class Senders(Protocol):
    """Who sends while `plan_and_send` plans: a thread of this process (SendingThread) or sender processes
    (bot.jobs.send_processes)."""

    def wake(self) -> None: ...  # a group of digests has been committed: send it

    def finish(self) -> SendReport: ...  # planning has ended: a last pass, then what every pass did


class Wakeups:
    """The signals of a sender that runs while planning goes on: `wake()` after each committed group,
    `planned()` once planning has ended, `stop()` to hand back what is claimed and end."""

    def __init__(self) -> None:
        self._woken, self._planned, self.stopped = threading.Event(), threading.Event(), threading.Event()

    def wake(self) -> None:
        self._woken.set()

    def planned(self) -> None:
        self._planned.set()
        self._woken.set()

    def stop(self) -> None:
        self.stopped.set()
        self._woken.set()

    def passes(self, send_pass: Callable[[], SendReport]) -> list[SendReport]:
        """Run `send_pass()` once per wake-up, and a last time once planning has ended; the reports of the passes.

        The last pass starts after the last commit, so it sees every digest planned. When a pass found the
        channel unavailable (rows handed back), the wake-ups before the last pass are let go by: the mail
        server is not tried again per group.
        """
        reports: list[SendReport] = []
        while not self.stopped.is_set():
            self._woken.wait()
            self._woken.clear()
            last = self._planned.is_set()  # read before the pass: a last pass starts after the last commit
            if self.stopped.is_set():
                break
            if last or not (reports and reports[-1].deferred):
                reports.append(send_pass())
            if last:
                break
        return reports


class SendingThread:
    """Senders: one thread of this process that sends as `owner` on every wake-up (1 sender process)."""

    def __init__(self, app: App, owner: Owner, *, only: int | None = None,
                 on_progress: Callable[[OutboxItem, str], None] | None = None):
        self.wakeups = Wakeups()
        self._passes: list[SendReport] = []
        self._failure: list[BaseException] = []

        def send_pass() -> SendReport:
            return send_step(app, owner, only_subscriber=only, on_progress=on_progress)

        def run() -> None:
            try:
                self._passes.extend(self.wakeups.passes(send_pass))
            except BaseException as exc:  # noqa: BLE001 - raised in the caller's thread
                self._failure.append(exc)

        self._thread = threading.Thread(target=run, name="send-while-planning", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self.wakeups.wake()

    def finish(self) -> SendReport:
        self.wakeups.planned()
        self._thread.join()
        if self._failure:
            raise self._failure[0]
        return summed_reports(self._passes)


def plan_and_send(app: App, owner: Owner, *, ignore_hour: bool = False, only: int | None = None,
                  on_progress: Callable[[OutboxItem, str], None] | None = None,
                  group: int = PEOPLE_PER_COMMIT, on_commit: Callable[[], None] | None = None,
                  senders: Senders | None = None) -> tuple[PlanReport, SendReport]:
    """Plan the due digests and send them while planning goes on: sending starts with the first group.

    `senders` (default: a SendingThread of this process, as `owner`) are woken whenever a group of digests
    has been committed (a digest is committed with its matches linked, so nothing is sent half planned), and
    run one last pass once planning has ended, which sees every digest planned. Claims and leases keep each
    row to one delivery, between threads as between processes. `on_commit()` runs in the planner after each
    group's commit, once the senders have been woken.
    """
    own = senders is None
    senders = senders or SendingThread(app, owner, only=only, on_progress=on_progress)

    def wake() -> None:
        senders.wake()
        if on_commit is not None:
            on_commit()

    try:
        report = plan_step(app, ignore_hour=ignore_hour, only=only, on_commit=wake, group=group)
    except BaseException:
        if own:
            senders.finish()  # what was planned still goes out; the planner's error is the one raised
        raise
    return report, senders.finish()


def summed_reports(passes: Sequence[SendReport]) -> SendReport:
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
