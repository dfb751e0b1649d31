"""The worker: APScheduler jobs that poll, match, plan and send, with the database as the only state.

The scheduler is a metronome, not a memory. Each job asks the database what is
due (a source whose interval has passed, a subscriber whose hour has come, an
outbox row that is queued or whose retry time has come) and does that. So a
source or subscriber added while the worker runs is seen at the next run, a
restart loses nothing, and the jobs could later move to other machines.

- `poll` (every min(PAPERPOST_POLL_INTERVAL, 60) s): polls each due source
  (`Poller.due`: the source's own interval or the default, and its backoff),
  matches the new papers, and wakes `plan` when they brought matches.
- `plan` (every PAPERPOST_PLAN_INTERVAL s): matches new or changed profiles,
  queues the digests that are due, and wakes `send` when it queued any.
- `send` (every min(PAPERPOST_PLAN_INTERVAL, 60) s): drains the outbox, which
  also retries failed rows once their backoff has passed.

`poll` and `plan` share one thread, so matching never runs twice at once;
`send` has its own, so a slow feed never holds up mail. Every job runs once at
start (catching up what was missed while the worker was down: a digest stays
due for the rest of its day), never overlaps itself (max_instances=1), and
runs missed while the machine slept are run once (coalesce), however late.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers import SchedulerNotRunningError
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy.engine import make_url

from bot.app import App
from bot.config import Config
from bot.logs import log_event
from bot.jobs.cycle import match_step, plan_step, send_step
from bot.jobs.poll import PollReport, poll_one
from bot.store import heartbeats, outbox, sources
from bot.store.outbox import OutboxItem

TICK_MAX = 60.0  # seconds: the longest the poll and send jobs wait between looks at the database


@dataclass(frozen=True)
class Intervals:
    """Seconds between runs of each job."""

    poll: float
    plan: float
    send: float

    @classmethod
    def from_config(cls, config: Config) -> Intervals:
        plan = float(config["PAPERPOST_PLAN_INTERVAL"])
        return cls(poll=min(float(config["PAPERPOST_POLL_INTERVAL"]), TICK_MAX), plan=plan, send=min(plan, TICK_MAX))


class Worker:
    """The scheduled jobs of one worker process; `start()`, then `stop()` on shutdown."""

    def __init__(self, app: App, intervals: Intervals | None = None):
        self.app = app
        self.intervals = intervals or Intervals.from_config(app.config)
        self.stopping = threading.Event()
        self._running = 0
        self._idle = threading.Condition()
        self._host, self._pid = socket.gethostname(), os.getpid()
        self.scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(1), "delivery": ThreadPoolExecutor(1)},
            job_defaults={"max_instances": 1, "coalesce": True, "misfire_grace_time": None},
            timezone=timezone.utc)

    def start(self) -> None:
        """Start every job (each runs at once); the send job takes back what dead workers left half-sent."""
        now = datetime.now(timezone.utc)
        jobs: tuple[tuple[str, Callable[[], None], float, str], ...] = (
            ("poll", self.poll_job, self.intervals.poll, "default"),
            ("plan", self.plan_job, self.intervals.plan, "default"),
            ("send", self.send_job, self.intervals.send, "delivery"),
        )
        for name, body, every, executor in jobs:
            self.scheduler.add_job(self._run, "interval", args=(name, every, body), seconds=every, id=name,
                                   name=name, executor=executor, next_run_time=now)
        self.scheduler.start()
        log_event("worker.start", pid=self._pid, database=_safe_url(self.app.config.database_url),
                  poll_every=self.intervals.poll, plan_every=self.intervals.plan, send_every=self.intervals.send)

    def stop(self, grace: float = 5.0) -> bool:
        """Take no new work; wait up to `grace` s for running jobs to finish or hand back their rows.

        True when every job ended in time. A poll still waiting on a slow feed
        after that is abandoned: nothing of it was stored, the source is polled again next start.
        """
        self.stopping.set()
        log_event("worker.stopping", running_jobs=self._running)
        try:
            self.scheduler.shutdown(wait=False)
        except SchedulerNotRunningError:
            pass
        deadline = time.monotonic() + grace
        with self._idle:
            while self._running and time.monotonic() < deadline:
                self._idle.wait(deadline - time.monotonic())
            return self._running == 0

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
        if not report.planned:
            return
        with self.app.db.session() as session:
            queued = [i for i in outbox.list_outbox(session, limit=report.planned * 2 + 10) if i.created_at == now]
        for item in sorted(queued, key=lambda i: i.id):
            log_event("plan", outbox=item.id, to=item.email, kind=item.kind, period=item.period)
        log_event("plan.done", planned=report.planned, nothing_new=report.nothing_new, not_due=report.not_due,
                  already=report.already)
        self._wake("send")

    def send_job(self) -> None:
        """Deliver what the outbox holds; on shutdown, hand back the rows not yet sent."""
        report = send_step(self.app, on_progress=self._log_send, should_stop=self.stopping.is_set)
        if report.sent or report.failed or report.dropped:
            log_event("send.done", sent=report.sent, failed=report.failed, dropped=report.dropped)

    def wake_sender(self) -> None:
        """Send now what was just queued (a confirmation mail from the web pages), not at the next tick."""
        self._wake("send")

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
        """Run `job` now instead of at its next tick (skipped if it is running: it will see the work next time)."""
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
