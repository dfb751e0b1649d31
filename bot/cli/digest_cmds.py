"""`paperpost digest` (plan and send what is due) and `paperpost outbox` (what was sent or failed)."""

from __future__ import annotations

from datetime import timedelta

import click
from rich.progress import MofNCompleteColumn, Progress

from bot.app import App
from bot.cli.root import cli, console, emit_json, emit_table, json_option, pass_app
from bot.errors import PaperpostError
from bot.jobs.cycle import match_step, send_step
from bot.jobs.plan import plan_digests
from bot.digest.timing import due_period
from bot.jobs.send import preview_digest
from bot.store import outbox, subscribers


@cli.command("digest")
@click.option("--now", "ignore_hour", is_flag=True, help="Ignore send hours: everyone with new matches is due.")
@click.option("--dry-run", is_flag=True, help="Show what would be sent; plan and send nothing.")
@click.option("--only", "only_email", default=None, help="Only this subscriber.")
@pass_app
def digest_cmd(app: App, ignore_hour: bool, dry_run: bool, only_email: str | None) -> None:
    """Match new papers, then build and send the digests that are due."""
    only_id = None
    if only_email is not None:
        with app.db.session() as session:
            person = subscribers.find_subscriber(session, only_email)
        if person is None:
            raise PaperpostError(f"No subscriber {only_email}; `paperpost subscribers list` shows who there is.")
        only_id = person.id
    if dry_run:
        _dry_run(app, ignore_hour, only_email)
        return
    match_step(app)
    planned = plan_digests(app.db, app.clock(), ignore_hour=ignore_hour, only_email=only_email,
                           stale_after=timedelta(hours=app.config["PAPERPOST_STALE_HOURS"]))
    with app.db.session() as session:
        total = outbox.count_claimable(session, app.clock(), only_subscriber=only_id)
    with Progress(*Progress.get_default_columns(), MofNCompleteColumn(), console=console, transient=True) as progress:
        task = progress.add_task("sending", total=total or None)
        report = send_step(app, only_subscriber=only_id, on_progress=lambda item, result: progress.advance(task))
    skipped = planned.nothing_new + planned.not_due + planned.already
    console.print(f"planned {planned.planned}, sent {report.sent}, failed {report.failed}, skipped {skipped} "
                  f"({planned.nothing_new} nothing new, {planned.not_due} not due, {planned.already} already sent this period)"
                  + (f", dropped {report.dropped + planned.stale}" if report.dropped or planned.stale else "")
                  + (f", {report.bounced} bounced" if report.bounced else ""))
    if report.deferred:
        console.print(f"{report.deferred} left queued: the mail server could not be reached "
                      "(`paperpost outbox` shows the error); they go out on the next run.")
    if report.failed:
        console.print("See `paperpost outbox --failed` for the errors; temporary failures are retried on their backoff.")


def _dry_run(app: App, ignore_hour: bool, only_email: str | None) -> None:
    match_step(app)
    now = app.clock()
    with app.db.session() as session:
        people = subscribers.list_subscribers(session, status="active")
        if only_email:
            people = [p for p in people if p.email == only_email.lower()]
        for person in people:
            period = due_period(person, now, ignore_hour=ignore_hour)
            if period is None:
                console.print(f"{person.email}: not due yet ({person.frequency} at {person.hour:02d}:00 {person.tz})")
                continue
            digest = preview_digest(session, person, period, app.mail_context)
            if digest.items:
                console.print(f"{person.email}: would get “{digest.subject}” ({period})")
            else:
                console.print(f"{person.email}: nothing new")


@cli.command("outbox")
@click.option("--failed", "failed_only", is_flag=True, help="Only messages that failed.")
@click.option("--limit", default=50, show_default=True)
@json_option
@pass_app
def outbox_cmd(app: App, failed_only: bool, limit: int, as_json: bool) -> None:
    """Show the outbox: every message, its state and its last error."""
    with app.db.session() as session:
        items = outbox.list_outbox(session, failed_only=failed_only, limit=limit)
    if as_json:
        emit_json({"id": i.id, "email": i.email, "channel": i.channel, "kind": i.kind, "period": i.period,
                   "state": i.state, "attempts": i.attempts, "last_error": i.last_error, "created_at": i.created_at,
                   "sent_at": i.sent_at, "subject": i.subject} for i in items)
        return
    emit_table(("id", "to", "kind", "period", "state", "tries", "error / subject"),
               ((i.id, i.email, i.kind, i.period, i.state, i.attempts, i.last_error or i.subject or "") for i in items))
