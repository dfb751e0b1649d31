"""One full cycle of the job: poll -> match -> plan -> send. The worker runs the same steps as jobs."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.app import App
from bot.jobs.match import MatchReport, match_pending
from bot.jobs.plan import PlanReport, plan_digests
from bot.jobs.poll import PollReport, poll_sources
from bot.jobs.send import SendReport, send_pending
from bot.store.outbox import OutboxItem
from bot.store.sources import Source


@dataclass(frozen=True)
class CycleReport:
    polls: list[PollReport]
    matched: MatchReport
    planned: PlanReport
    sent: SendReport


def match_step(app: App) -> MatchReport:
    return match_pending(app.db, app.clock(), recent_days=app.config["PAPERPOST_RECENT_DAYS"],
                         trending_top=app.config["PAPERPOST_TRENDING_TOP"])


def send_step(app: App, *, only_subscriber: int | None = None,
              on_progress: Callable[[OutboxItem, str], None] | None = None,
              should_stop: Callable[[], bool] | None = None) -> SendReport:
    mailer = app.mailer()
    try:
        return send_pending(app.db, mailer, app.mail_context, app.composers, only_subscriber=only_subscriber,
                            on_progress=on_progress, should_stop=should_stop)
    finally:
        mailer.close()


def run_cycle(app: App, *, force_poll: bool = False, ignore_hour: bool = False, only_email: str | None = None,
              source_names: Sequence[str] | None = None,
              on_poll: Callable[[Source], None] | None = None,
              on_send: Callable[[OutboxItem, str], None] | None = None) -> CycleReport:
    """Poll the due sources, match what is new, plan the due digests and send them."""
    polls = poll_sources(app.db, app.poller, names=source_names, force=force_poll, on_start=on_poll)
    matched = match_step(app)
    planned = plan_digests(app.db, app.clock(), ignore_hour=ignore_hour, only_email=only_email)
    sent = send_step(app, on_progress=on_send)
    return CycleReport(polls, matched, planned, sent)
