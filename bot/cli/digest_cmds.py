"""`paperpost digest` (plan and send what is due) and `paperpost outbox` (what was sent or failed)."""

from __future__ import annotations

import click
from rich.progress import MofNCompleteColumn, Progress

from bot.app import App
from bot.cli.root import cli, console, emit_json, emit_table, json_option, pass_app
from bot.errors import PaperpostError
from bot.digest.timing import due_period
from bot.jobs.cycle import match_step, plan_and_send
from bot.jobs.liveness import registered
from bot.jobs.send_processes import send_processes_wanted, sender_processes
from bot.channels.email.digest_mail import preview_digest
from bot.models import Subscriber
from bot.store import outbox, subscribers


@cli.command("digest")
@click.option("--now", "ignore_hour", is_flag=True, help="Ignore send hours: everyone with new matches is due.")
@click.option("--dry-run", is_flag=True, help="Show what would be sent; plan and send nothing.")
@click.option("--only", "only_who", default=None, metavar="WHO", help="Only this subscriber: an email, tg:CHAT_ID or #ID.")
@pass_app
def digest_cmd(app: App, ignore_hour: bool, dry_run: bool, only_who: str | None) -> None:
    """Match new papers, then build and send the digests that are due."""
    person = None
    if only_who is not None:
        with app.db.session() as session:
            person = subscribers.find_by_identifier(session, only_who)
        if person is None:
            raise PaperpostError(f"No subscriber {only_who}; `paperpost subscribers list` shows who there is.")
    if dry_run:
        _dry_run(app, ignore_hour, person)
        return
    only_id = person.id if person is not None else None
    # Registered for the run: a stopped run is known dead at once, and its rows are taken back by the next one.
    with registered(app.db, app.config, ("digest",), app.clock) as owner, \
            Progress(*Progress.get_default_columns(), MofNCompleteColumn(), console=console, transient=True) as progress:
        task = progress.add_task("sending", total=None, visible=False)

        def advance(*_: object) -> None:
            progress.advance(task)

        # Sender processes start now, while this one matches; they send as soon as the first group is planned.
        with sender_processes(app, owner, send_processes_wanted(app.config, only=only_id),
                              on_progress=advance) as senders:
            match_step(app)
            progress.update(task, visible=True)
            planned, report = plan_and_send(app, owner, ignore_hour=ignore_hour, only=only_id,
                                            on_progress=advance, senders=senders)
    ended_early = senders.ended_early if senders is not None else []
    skipped = planned.nothing_new + planned.not_due + planned.already
    console.print(f"planned {planned.planned}, sent {report.sent}, failed {report.failed}, skipped {skipped} "
                  f"({planned.nothing_new} nothing new, {planned.not_due} not due, {planned.already} already sent this period)"
                  + (f", dropped {report.dropped + planned.stale}" if report.dropped or planned.stale else "")
                  + (f", {report.bounced} bounced" if report.bounced else ""))
    if planned.learned:
        console.print(f"{planned.learned} {'reader' if planned.learned == 1 else 'readers'} with votes: "
                      "their digests ordered by what they liked, with suggestions where the model found some")
    for pid, how in ended_early:
        console.print(f"sender process {pid} ended early ({how}); "
                      + ("the rows it held wait with the others." if report.deferred else
                         "the rows it held were taken back and sent."))
    if report.taken_back or report.held_by_live:
        console.print(f"took back {_messages(report.taken_back)} left by a stopped process; "
                      f"{report.held_by_live} {'is' if report.held_by_live == 1 else 'are'} being sent by a running "
                      "worker (see `paperpost stats`).")
    if report.gone:
        console.print(f"{report.gone} {'subscriber' if report.gone == 1 else 'subscribers'} had a channel turned off "
                      "(address gone or bouncing); `paperpost subscribers list` shows them.")
    if report.deferred:
        console.print(f"{report.deferred} left queued: the mail server could not be reached "
                      "(`paperpost outbox` shows the error); they go out on the next run.")
    if report.failed:
        console.print("See `paperpost outbox --failed` for the errors; temporary failures are retried on their backoff.")


def _messages(count: int) -> str:
    return f"{count} {'message' if count == 1 else 'messages'}"


def _dry_run(app: App, ignore_hour: bool, only: Subscriber | None) -> None:
    match_step(app)
    now = app.clock()
    with app.db.session() as session:
        people = subscribers.list_subscribers(session, status="active") if only is None else [only]
        for person in people:
            if not person.email_on:
                console.print(f"{person.label}: no email digest (email is off or not set)")
                continue
            period = due_period(person, now, ignore_hour=ignore_hour)
            if period is None:
                console.print(f"{person.label}: not due yet ({person.frequency} at {person.hour:02d}:00 {person.tz})")
                continue
            digest = preview_digest(session, person, period, app.mail_context)
            if digest.items:
                console.print(f"{person.label}: would get “{digest.subject}” ({period})")
            else:
                console.print(f"{person.label}: nothing new")


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
        emit_json({"id": i.id, "email": i.email, "owner": i.owner_id, "channel": i.channel, "kind": i.kind, "period": i.period,
                   "state": i.state, "attempts": i.attempts, "last_error": i.last_error, "created_at": i.created_at,
                   "sent_at": i.sent_at, "subject": i.subject} for i in items)
        return
    emit_table(("id", "to", "channel", "kind", "period", "state", "tries", "error / subject"),
               ((i.id, i.email or f"#{i.subscriber_id}", i.channel, i.kind, i.period, i.state, i.attempts,
                 i.last_error or i.subject or "") for i in items))
