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
from bot.store import subscribers
from subscribers.importer import read_subscribers_file
from subscribers.validation import InvalidSubscriber, RawSubscriber, split_interests, validate_subscriber


@cli.group("subscribers")
def subscribers_group() -> None:
    """Add, list, import, export and remove subscribers (those added here are active at once)."""


def subscriber_row(person: Subscriber) -> dict[str, Any]:
    return {"email": person.email, "status": person.status, "interests": list(person.interests),
            "frequency": person.frequency, "hour": person.hour, "tz": person.tz,
            "weekday": person.weekday, "telegram": person.telegram_chat_id}


@subscribers_group.command("add")
@click.argument("email")
@click.option("--interests", required=True, help="Interests in the profile language; one per line or separated by ' ; '.")
@click.option("--frequency", type=click.Choice(["daily", "weekly"]), default="daily", show_default=True)
@click.option("--weekday", default="monday", show_default=True, help="Weekly digests: the day.")
@click.option("--hour", default=7, show_default=True, help="Local hour of the digest (0-23).")
@click.option("--tz", default="UTC", show_default=True, help="IANA time zone, e.g. Europe/Berlin.")
@click.option("--telegram", default=None, help="Telegram chat id.")
@pass_app
def add_cmd(app: App, email: str, interests: str, frequency: str, weekday: str, hour: int, tz: str, telegram: str | None) -> None:
    """Add (or update) one subscriber, active at once."""
    try:
        data = validate_subscriber(RawSubscriber(email, split_interests(interests), frequency, hour, tz, weekday, telegram))
    except InvalidSubscriber as exc:
        raise PaperpostError(f"Cannot add {email}: {exc}.") from exc
    with app.db.session() as session:
        person, outcome = subscribers.save_subscriber(session, data, "active", app.clock())
    console.print(f"{outcome} {person.email} ({person.status}) with {len(person.interests)} interests")


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
    emit_table(("email", "status", "interests", "when"),
               ((p.email, p.status, " ; ".join(p.interests), f"{p.frequency} {p.hour:02d}:00 {p.tz}") for p in people),
               title=f"{len(people)} subscribers")


@subscribers_group.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@pass_app
def import_cmd(app: App, file: Path) -> None:
    """Import subscribers from a .toml file (see seeds/subscribers.toml) or a CSV with columns email,interests."""
    counts = import_subscribers(app, file)
    if counts["errors"]:
        sys.exit(1)


def import_subscribers(app: App, file: Path, *, quiet: bool = False) -> dict[str, int]:
    """Save every good row (active at once), report bad rows with their line numbers."""
    rows, errors = read_subscribers_file(file)
    counts = {"created": 0, "updated": 0, "unchanged": 0, "errors": len(errors)}
    with app.db.session() as session:
        for row in rows:
            _, outcome = subscribers.save_subscriber(session, row.subscriber, "active", app.clock())
            counts[outcome] += 1
    for error in errors:
        click.echo(f"{file}:{error.line}: {error.message}", err=True)
    if not quiet or errors:
        console.print(f"{file}: {counts['created']} added, {counts['updated']} updated, "
                      f"{counts['unchanged']} unchanged, {counts['errors']} rejected")
    return counts


@subscribers_group.command("export")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True)
@pass_app
def export_cmd(app: App, fmt: str) -> None:
    """Write every subscriber to stdout (CSV that `subscribers import` reads back, or JSON lines)."""
    with app.db.session() as session:
        people = subscribers.list_subscribers(session)
    if fmt == "json":
        emit_json(subscriber_row(p) for p in people)
        return
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(["email", "interests", "frequency", "weekday", "hour", "tz", "telegram", "status"])
    for p in people:
        writer.writerow([p.email, "\n".join(p.interests), p.frequency, p.weekday, p.hour, p.tz, p.telegram_chat_id or "", p.status])


@subscribers_group.command("remove")
@click.argument("email")
@pass_app
def remove_cmd(app: App, email: str) -> None:
    """Delete a subscriber and all their data."""
    with app.db.session() as session:
        if not subscribers.remove_subscriber(session, email):
            raise PaperpostError(f"No subscriber {email}; `paperpost subscribers list` shows who there is.")
    console.print(f"removed {email}")
