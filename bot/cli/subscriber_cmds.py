"""`paperpost subscribers add|list|import|export|remove`."""

from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import Any

import click

from bot.app import App
from bot.cli.root import cli, console, emit_json, emit_table, json_option, pass_app
from bot.errors import PaperpostError
from bot.models import Subscriber
from bot.profile import interest_warnings
from bot.store import subscriber_batches, subscribers, votes
from subscribers import service
from subscribers.importer import RowError, escape_cell, iter_subscriber_batches, validate_row
from subscribers.validation import InvalidSubscriber, RawSubscriber, split_interests


@cli.group("subscribers")
def subscribers_group() -> None:
    """Add, list, import, export and remove subscribers (those added here are active at once)."""


def subscriber_row(person: Subscriber) -> dict[str, Any]:
    return {"id": person.id, "email": person.email, "telegram": person.telegram_chat_id, "status": person.status,
            "interests": list(person.interests), "frequency": person.frequency, "hour": person.hour, "tz": person.tz,
            "weekday": person.weekday, "email_state": person.email_state, "email_reason": person.email_reason,
            "telegram_state": person.telegram_state, "telegram_reason": person.telegram_reason}


def channel_summary(person: Subscriber) -> str:
    """Each channel the person has, on or off with the reason: `email on, telegram off (blocked the bot)`."""
    parts = []
    for channel, address, state, reason in (("email", person.email, person.email_state, person.email_reason),
                                            ("telegram", person.telegram_chat_id, person.telegram_state,
                                             person.telegram_reason)):
        if address is not None:
            parts.append(f"{channel} {state}" + (f" ({reason})" if state != "on" and reason else ""))
    return ", ".join(parts)


def split_identifier(identifier: str, telegram: str | None) -> tuple[str | None, str | None]:
    """(email, chat) of `subscribers add`: EMAIL [--telegram CHAT_ID], or tg:CHAT_ID alone for a chat-only person."""
    parsed = subscribers.parse_identifier(identifier)
    if parsed is not None and parsed[0] == "telegram":
        if telegram is not None and telegram.strip() != parsed[1]:
            raise PaperpostError(f"{identifier} and --telegram {telegram} name two chats; give one of them.")
        return None, parsed[1]
    if parsed is None and identifier.strip().lower().startswith("tg:"):
        raise PaperpostError(f"{identifier} is not a Telegram chat; a chat id is a number, as in tg:123456789.")
    if parsed is not None and parsed[0] == "id":
        raise PaperpostError(f"`subscribers add` takes an email or tg:CHAT_ID, not {identifier}; "
                             "to change someone, add them again by their email or chat.")
    return identifier, telegram


@subscribers_group.command("add")
@click.argument("identifier", metavar="EMAIL|tg:CHAT_ID")
@click.option("--interests", required=True, help="Interests in the profile language; one per line or separated by ' ; '.")
@click.option("--frequency", type=click.Choice(["daily", "weekly"]), default="daily", show_default=True)
@click.option("--weekday", default="monday", show_default=True, help="Weekly digests: the day.")
@click.option("--hour", default=7, show_default=True, help="Local hour of the digest (0-23).")
@click.option("--tz", default="UTC", show_default=True, help="IANA time zone, e.g. Europe/Berlin.")
@click.option("--telegram", default=None, help="Telegram chat id (with an EMAIL: the person gets both).")
@pass_app
def add_cmd(app: App, identifier: str, interests: str, frequency: str, weekday: str, hour: int, tz: str,
            telegram: str | None) -> None:
    """Add (or update) one subscriber by email, or by tg:CHAT_ID for a chat-only person; active at once."""
    email, chat = split_identifier(identifier, telegram)
    try:
        data = validate_row(RawSubscriber(email, split_interests(interests), frequency, hour, tz, weekday, chat),
                            service.stored_papers(app.db))
    except InvalidSubscriber as exc:
        raise PaperpostError(f"Cannot add {identifier!r}: {exc}.") from exc
    with app.db.session() as session:
        person, outcome = subscribers.save_subscriber(session, data, "active", app.clock())
    console.print(f"{outcome} {person.label} ({person.status}; {channel_summary(person)}) "
                  f"with {len(person.interests)} interests")
    echo_interest_warnings(data.interests)


def echo_interest_warnings(interests: tuple[str, ...] | list[str]) -> None:
    """Print, on stderr, what in each interest is not what it seems (look-alike characters)."""
    for n, text in enumerate(interests, 1):
        for warning in interest_warnings(text):
            click.echo(f"warning: interest {n} ({text[:60]!r}): {warning}", err=True)


@subscribers_group.command("list")
@click.option("--status", type=click.Choice(["pending", "active", "paused", "unsubscribed"]), default=None)
@json_option
@pass_app
def list_cmd(app: App, status: str | None, as_json: bool) -> None:
    """List subscribers."""
    with app.db.session() as session:
        people = subscribers.list_subscribers(session, status)
    if as_json:
        emit_json(subscriber_row(p) for p in people)
        return
    emit_table(("id", "email", "telegram", "status", "channels", "interests", "when"),
               ((f"#{p.id}", p.email or "", p.telegram_chat_id or "", p.status, channel_summary(p),
                 " ; ".join(p.interests), f"{p.frequency} {p.hour:02d}:00 {p.tz}") for p in people),
               title=f"{len(people)} subscribers")


@subscribers_group.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@pass_app
def import_cmd(app: App, file: Path) -> None:
    """Import subscribers from a .toml file (see seeds/subscribers.toml) or a CSV with columns email,interests[,telegram]."""
    counts = import_subscribers(app, file)
    if counts["errors"]:
        sys.exit(1)


def import_subscribers(app: App, file: Path, *, quiet: bool = False) -> dict[str, int]:
    """Save every good row (active at once) batch by batch, report bad rows and look-alike warnings by line."""
    counts = {"created": 0, "updated": 0, "unchanged": 0, "errors": 0, "warnings": 0}
    for batch in iter_subscriber_batches(file, stored_papers=service.stored_papers(app.db)):
        errors = list(batch.errors)
        if batch.rows:
            with app.db.session() as session:  # one transaction per batch: memory stays flat on a large file
                saved = subscriber_batches.save_many(session, [row.subscriber for row in batch.rows], "active",
                                                     app.clock())
            for row, outcome in zip(batch.rows, saved):
                if isinstance(outcome, subscribers.IdentityTaken):  # the row is skipped whole
                    errors.append(RowError(row.line, str(outcome)))
                else:
                    counts[outcome] += 1
        notes = [(error.line, error.message) for error in errors]
        notes += [(row.line, f"warning: {warning}") for row in batch.rows for warning in row.warnings]
        counts["errors"] += len(errors)
        counts["warnings"] += sum(len(row.warnings) for row in batch.rows)
        for line, message in sorted(notes, key=lambda note: note[0]):
            click.echo(f"{file}:{line}: {message}", err=True)
    if not quiet or counts["errors"]:
        console.print(f"{file}: {counts['created']} added, {counts['updated']} updated, "
                      f"{counts['unchanged']} unchanged, {counts['errors']} rejected")
    return counts


VOTE_WORDS = {votes.MORE: "more", votes.LESS: "less"}


@subscribers_group.command("export")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True)
@pass_app
def export_cmd(app: App, fmt: str) -> None:
    """Write every subscriber to stdout (CSV that `subscribers import` reads back, or JSON lines), with their votes.

    Votes: JSON `{"paper id": "more"|"less"}`; CSV one `more PAPER_ID` or `less PAPER_ID` line each.
    Import reads the subscribers back and ignores the votes (a vote needs its paper stored).
    """
    with app.db.session() as session:
        people = subscribers.list_subscribers(session)
        cast = votes.votes_by_subscriber(session)
    if fmt == "json":
        emit_json({**subscriber_row(p), "votes": {paper: VOTE_WORDS[v] for paper, v in cast.get(p.id, {}).items()}}
                  for p in people)
        return
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(["email", "interests", "frequency", "weekday", "hour", "tz", "telegram", "status", "votes"])
    for p in people:  # every cell escaped: a spreadsheet never runs one as a formula; import reads it back
        voted = "\n".join(f"{VOTE_WORDS[v]} {paper}" for paper, v in cast.get(p.id, {}).items())
        writer.writerow([escape_cell(str(value)) for value in (
            p.email or "", "\n".join(p.interests), p.frequency, p.weekday, p.hour, p.tz, p.telegram_chat_id or "",
            p.status, voted)])


@subscribers_group.command("remove")
@click.argument("identifier", metavar="EMAIL|tg:CHAT_ID|#ID")
@pass_app
def remove_cmd(app: App, identifier: str) -> None:
    """Delete a subscriber (named by email, tg:CHAT_ID or #ID) and all their data."""
    with app.db.session() as session:
        person = subscribers.find_by_identifier(session, identifier)
        if person is None:
            raise PaperpostError(no_one(identifier))
        subscribers.delete_subscriber(session, person.id)
    console.print(f"removed {person.label} (#{person.id})")


def no_one(identifier: str) -> str:
    """The error for an identifier that names no subscriber (or is not one)."""
    if subscribers.parse_identifier(identifier) is None:
        return (f"{identifier!r} does not name a subscriber; give an email, tg:CHAT_ID or #ID "
                "(`paperpost subscribers list` shows them).")
    return f"No subscriber {identifier}; `paperpost subscribers list` shows who there is."
