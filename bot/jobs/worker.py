"""The worker: APScheduler jobs that poll, match, plan and send, with the database as the only state.

The scheduler is a metronome, not a memory. Each job asks the database what is
due (a source whose interval has passed, a subscriber whose hour has come, an
outbox row that is queued or whose retry time has come) and does that. So a
source or subscriber added while the worker runs is seen at the next run, a
restart loses nothing, and the jobs could later move to other machines.

Roles (`paperpost worker --jobs poll,plan,send`, default all):
- the planner holds the planner lock (bot.jobs.locks) for as long as it lives and runs
  `poll` (every min(PAPERPOST_POLL_INTERVAL, 60) s: polls each due source, matches the
  new papers, wakes `plan` when they brought matches), `plan` (every
  PAPERPOST_PLAN_INTERVAL s: matches new or changed profiles, queues the digests due,
  wakes `send`) and `prune` (daily: retention);
- a worker whose lock try failed is a standby (PostgreSQL only: on SQLite a second
  worker refuses to start); bot.jobs.watch retries the lock and makes it the planner
  when the holder dies; the planner also long-polls the Telegram bot's updates (chat commands) when a token
  is set and no webhook takes them (bot.jobs.telegram_polling);
- `send` (any number of workers; every PAPERPOST_SEND_INTERVAL s, and at once when
  woken: by `plan`, by the web pages in the same process, by a NOTIFY on PostgreSQL
  (bot.jobs.wake), by the watch when a dead worker's rows are there to take back)
  drains the outbox as this worker (the owner of what it claims).

`poll`, `plan` and `prune` share one thread, so matching never runs twice at once;
`send` has its own, so a slow feed never holds up mail. Every job runs once at
start (catching up what was missed while the worker was down), and runs missed
while the machine slept are run once (coalesce), however late. A wake-up while
`send` runs queues one more pass right after it (max two instances on one thread).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING
from datetime import datetime, timezone

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers import SchedulerNotRunningError
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy.engine import make_url

from bot.app import App
from bot.errors import WorkerLockHeld
from bot.jobs.cycle import alert_step, match_step, plan_step, send_step
from bot.jobs.liveness import WorkerHandle
from bot.jobs.locks import PlannerLock
from bot.jobs.poll import PollReport, poll_one
from bot.jobs.prune import prune_step
from bot.jobs.roles import JOBS, PLANNER_JOBS, Intervals, roles_of
from bot.jobs.telegram_polling import UpdatePolling
from bot.jobs.watch import Watch
from bot.logs import log_event
from bot.store import heartbeats, outbox, sources
from bot.store.outbox import OutboxItem

if TYPE_CHECKING:
    from bot.jobs.wake import OutboxListener

PRUNE_EVERY = 24 * 3600.0


class Worker:
    """The scheduled jobs of one worker process; `start()`, then `stop()` on shutdown.

    `handle` is this process's registration (the owner of its claims); `planner` the planner
    lock it may hold (None: it never plans), already held when `planning` is True (SQLite).
    """

    def __init__(self, app: App, handle: WorkerHandle, *, jobs: Sequence[str] = JOBS,
                 planner: PlannerLock | None = None, planning: bool = False, intervals: Intervals | None = None):
        self.app = app
        self.handle = handle
        self.jobs = tuple(j for j in JOBS if j in jobs)
        self.planner = planner if any(j in self.jobs for j in PLANNER_JOBS) else None
        self.intervals = intervals or Intervals.from_config(app.config)
        self.stopping = threading.Event()
        self.lost = threading.Event()  # our liveness lock is gone: stop claiming, the process exits non-zero
        self._running = 0
        self._idle = threading.Condition()
        self._host, self._pid = socket.gethostname(), os.getpid()
        self._planning_lock = threading.Lock()  # becoming the planner and losing it never interleave
        self.scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(1), "delivery": ThreadPoolExecutor(1)},
            job_defaults={"max_instances": 1, "coalesce": True, "misfire_grace_time": None},
            timezone=timezone.utc)
        self.watch = Watch(handle, self.planner, planning=planning and self.planner is not None,
                           on_planner=self._became_planner, on_planner_lost=self._lost_planner,
                           on_dead=self.wake_sender, on_lost=self._lost_liveness)
        self._listener: OutboxListener | None = None
        self._updates: UpdatePolling | None = None  # Telegram long polling, while this worker is the planner

    @property
    def planning(self) -> bool:
        return self.watch.planning

    def start(self) -> None:
        """Start the send job (if ours) and, as the planner, poll, plan and prune; else stand by for the lock."""
        if self.planner is not None and not self.watch.planning:
            self._try_planner()
        if "send" in self.jobs:
            self._add("send", self.send_job, self.intervals.send, "delivery", instances=2)
        if self.watch.planning:
            self._add_planner_jobs()
            self._start_updates()
        self.handle.set_roles(roles_of(self.jobs, self.watch.planning))
        self.scheduler.start()
        self.watch.start()
        if "send" in self.jobs and not self.app.db.is_sqlite:
            from bot.jobs.wake import OutboxListener  # psycopg is needed on PostgreSQL only

            self._listener = OutboxListener(self.app.config.database_url, self.wake_sender).start()
        log_event("worker.start", pid=self._pid, worker=self.handle.id, roles=",".join(self.handle.roles),
                  database=_safe_url(self.app.config.database_url), poll_every=self.intervals.poll,
                  plan_every=self.intervals.plan, send_every=self.intervals.send)
        if self.planner is not None and self.watch.planning:
            log_event("worker.planner", worker=self.handle.id, roles=",".join(self.handle.roles), lock=self.planner.where)
        elif self.planner is not None:
            log_event("worker.standby", worker=self.handle.id, lock=self.planner.where,
                      note="another worker is the planner; this one sends (if asked to) and takes over "
                           "within seconds of its end")

    def stop(self, grace: float = 5.0) -> bool:
        """Take no new work; wait up to `grace` s for running jobs to finish or hand back their rows.

        True when every job ended in time. A poll still waiting on a slow feed
        after that is abandoned: nothing of it was stored, the source is polled again next start.
        """
        self.stopping.set()
        log_event("worker.stopping", running_jobs=self._running)
        self._stop_updates()
        self.watch.stop()
        if self._listener is not None:
            self._listener.stop()
        try:
            self.scheduler.shutdown(wait=False)
        except SchedulerNotRunningError:
            pass
        deadline = time.monotonic() + grace
        with self._idle:
            while self._running and time.monotonic() < deadline:
                self._idle.wait(deadline - time.monotonic())
            return self._running == 0

    # Roles --------------------------------------------------------------------------------------------

    def _try_planner(self) -> None:
        assert self.planner is not None
        try:
            self.planner.acquire()
        except WorkerLockHeld:
            return
        self.watch.planning = True

    def _became_planner(self) -> None:
        """The watch took the planner lock (the holder is gone): start polling and planning now."""
        with self._planning_lock:
            if self.stopping.is_set():
                return
            self._add_planner_jobs()
            self._start_updates()
            self.handle.set_roles(roles_of(self.jobs, True))
        log_event("worker.planner", worker=self.handle.id, roles=",".join(self.handle.roles),
                  lock=self.planner.where if self.planner else None)

    def _lost_planner(self) -> None:
        """The planner lock's connection died: stop polling and planning, and stand by again."""
        with self._planning_lock:
            self._stop_updates()
            for job in (*PLANNER_JOBS, "prune"):
                try:
                    self.scheduler.remove_job(job)
                except (JobLookupError, SchedulerNotRunningError):
                    pass
            self.handle.set_roles(roles_of(self.jobs, False))
        log_event("worker.standby", worker=self.handle.id, lock=self.planner.where if self.planner else None)

    def _start_updates(self) -> None:
        """Poll the bot's updates (the chat commands): the planner only, with a token, and without a webhook."""
        app = self.app
        if (self._updates is not None or app.update_handler is None or app.telegram is None
                or app.config["PAPERPOST_TELEGRAM_WEBHOOK"] == "1"):
            return
        self._updates = UpdatePolling(app.db, app.telegram, app.update_handler).start()

    def _stop_updates(self) -> None:
        if self._updates is not None:
            self._updates.stop()
            self._updates = None

    def _lost_liveness(self) -> None:
        self.lost.set()
        self.stopping.set()

    def _add_planner_jobs(self) -> None:
        if "poll" in self.jobs:
            self._add("poll", self.poll_job, self.intervals.poll, "default")
        if "plan" in self.jobs:
            self._add("plan", self.plan_job, self.intervals.plan, "default")
            self._add("prune", self.prune_job, PRUNE_EVERY, "default")  # retention is the planner's housekeeping

    def _add(self, name: str, body: Callable[[], None], every: float, executor: str, instances: int = 1) -> None:
        self.scheduler.add_job(self._run, "interval", args=(name, every, body), seconds=every, id=name, name=name,
                               executor=executor, max_instances=instances, next_run_time=datetime.now(timezone.utc),
                               replace_existing=True)

    # The jobs -----------------------------------------------------------------------------------------

    def poll_job(self) -> None:
        """Poll each due source (one failing never stops the others), then match what is new."""
        poller, now = self.app.poller, self.app.clock()
        with self.app.db.session() as session:
            due = [s for s in sources.list_sources(session, active_only=True) if poller.due(s, now)]
        fresh = 0
        for source in due:
            if self.stopping.is_set():
                break
            try:
                report = poll_one(self.app.db, poller, source)
            except Exception as exc:  # noqa: BLE001 - one source's surprise must not stop the others
                log_event("poll", level=logging.ERROR, exc_info=True, source=source.name, status="error",
                          error=f"{exc.__class__.__name__}: {exc}")
                continue
            _log_poll(report)
            fresh += report.new + report.updated
        if fresh and not self.stopping.is_set() and self._match():
            self._wake("plan")

    def plan_job(self) -> None:
        """Match new or changed profiles, queue the digests due now, and wake the sender if any were."""
        self._match()
        now = self.app.clock()
        report = plan_step(self.app, now=now)
        alerts = alert_step(self.app, now=now)
        if alerts.alerts or alerts.grouped or alerts.daily or alerts.held:
            log_event("alerts.planned", alerts=alerts.alerts, grouped=alerts.grouped, daily=alerts.daily,
                      held=alerts.held)
        if alerts.alerts or alerts.grouped or alerts.daily:
            self._wake("send")
        if not report.planned:
            return
        with self.app.db.session() as session:
            queued = [i for i in outbox.list_outbox(session, limit=report.planned * 2 + 10) if i.created_at == now]
        for item in sorted(queued, key=lambda i: i.id):
            log_event("plan", outbox=item.id, to=item.email, kind=item.kind, period=item.period)
        log_event("plan.done", planned=report.planned, nothing_new=report.nothing_new, not_due=report.not_due,
                  already=report.already)
        self._wake("send")

    def prune_job(self) -> None:
        """Prune what is older than PAPERPOST_RETENTION_DAYS (never queued mail); prune_step logs the counts."""
        prune_step(self.app)

    def send_job(self) -> None:
        """Deliver what the outbox holds; on shutdown, hand back the rows not yet sent."""
        report = send_step(self.app, self.handle, on_progress=self._log_send, should_stop=self._should_stop)
        if report.sent or report.failed or report.dropped:
            log_event("send.done", sent=report.sent, failed=report.failed, dropped=report.dropped)

    def wake_sender(self) -> None:
        """Send now what was just queued (a confirmation mail, a NOTIFY, a dead worker's rows), not at the next tick."""
        self._wake("send")

    def _should_stop(self) -> bool:
        return self.stopping.is_set() or self.lost.is_set()

    # Plumbing -----------------------------------------------------------------------------------------

    def _match(self) -> int:
        report = match_step(self.app)
        if report.papers or report.profiles:
            log_event("match", papers=report.papers, profiles=report.profiles, matches=report.matches)
        return report.matches

    def _log_send(self, item: OutboxItem, result: str) -> None:
        if result == "sent":
            log_event("send", outbox=item.id, to=item.email, kind=item.kind, period=item.period,
                      result=result, attempt=item.attempts)
            return
        with self.app.db.session() as session:
            now_item = outbox.get_items(session, [item.id])
        reason = now_item[0].last_error if now_item else None
        log_event("send", level=logging.WARNING, outbox=item.id, to=item.email, kind=item.kind, period=item.period,
                  result=result, attempt=item.attempts, error=reason)

    def _wake(self, job: str) -> None:
        """Run `job` now instead of at its next tick (if it is running, `send` runs once more right after)."""
        if self.stopping.is_set():
            return
        try:
            self.scheduler.modify_job(job, next_run_time=datetime.now(timezone.utc))
        except (JobLookupError, SchedulerNotRunningError):
            pass

    def _run(self, job: str, every: float, body: Callable[[], None]) -> None:
        """Run one job with its heartbeat; an error is logged and recorded, never fatal to the worker."""
        if self.stopping.is_set():
            return
        with self._idle:
            self._running += 1
        error = None
        try:
            self._beat(heartbeats.job_started, job, int(every), self.app.clock(), pid=self._pid, host=self._host)
            try:
                body()
            except Exception as exc:  # noqa: BLE001 - the next run tries again; /healthz shows the error
                error = f"{exc.__class__.__name__}: {exc}"
                log_event("job.error", level=logging.ERROR, exc_info=True, job=job, error=error)
            self._beat(heartbeats.job_finished, job, self.app.clock(), error)
        finally:
            with self._idle:
                self._running -= 1
                self._idle.notify_all()

    def _beat(self, record: Callable[..., None], *args: object, **kwargs: object) -> None:
        try:
            with self.app.db.session() as session:
                record(session, *args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - a heartbeat that cannot be written must not stop the work
            log_event("heartbeat.error", level=logging.WARNING, error=f"{exc.__class__.__name__}: {exc}")


def _log_poll(report: PollReport) -> None:
    level = logging.WARNING if report.status in ("failed", "gone") else logging.INFO
    log_event("poll", level=level, source=report.source, status=report.status, new=report.new,
              updated=report.updated, known=report.known, seconds=report.seconds, error=report.error)


def _safe_url(url: str) -> str:
    """The database URL without its password, for the log."""
    return make_url(url).render_as_string(hide_password=True)
