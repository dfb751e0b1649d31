"""`paperpost sources add|list|remove|enable|disable|accept-move` and `paperpost poll`."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import click
from rich.console import Console

from bot.app import App
from bot.cli.root import cli, console, emit_json, emit_table, json_option, pass_app
from bot.errors import PaperpostError
from bot.jobs.poll import PollReport, poll_sources, sniff_kind
from bot.sources.parsing import KINDS, expand_shortcut
from bot.sources.urls import redact_urls, source_url_problem
from bot.store import sources
from bot.store.sources import Source

progress = Console(stderr=True, highlight=False)


@cli.group("sources")
def sources_group() -> None:
    """Add, list and remove the paper sources that `poll` and the worker read."""


def source_row(source: Source) -> dict[str, Any]:
    return {"name": source.name, "url": source.shown_url, "kind": source.kind, "active": source.active,
            "interval": source.interval, "last_polled": source.last_polled, "last_error": source.last_error,
            "failures": source.failures, "next_attempt_at": source.next_attempt_at,
            "moved_to": source.moved_to and redact_urls(source.moved_to)}


def resolve_source(url: str, kind: str, sniff: Callable[[str], str]) -> tuple[str, str, str | None]:
    """(url, kind, default name) from what was typed: a shortcut (arxiv:cs.CL, hf:daily) or a URL.

    `sniff(url)` tells the kind of a URL that does not say it (one fetch of its body).
    """
    shortcut = expand_shortcut(url)
    if shortcut is not None:
        name = re.sub(r"[^a-z0-9.+-]+", "-", url.strip().lower())
        return shortcut[0], shortcut[1] if kind == "auto" else kind, name
    if not re.match(r"^(https?|file)://", url):
        raise PaperpostError(f"{url!r} is neither a URL nor a shortcut; give an http(s):// or file:// URL, "
                             "or a shortcut such as arxiv:cs.CL or hf:daily.")
    problem = source_url_problem(url)  # before the sniff: a refused URL is never fetched
    if problem is not None:
        raise PaperpostError(f"Cannot add {problem}.")
    return url, sniff(url) if kind == "auto" else kind, None


def default_name(url: str) -> str:
    parts = urlsplit(url)
    tail = parts.path.rstrip("/").rsplit("/", 1)[-1]
    return re.sub(r"[^A-Za-z0-9._+-]+", "-", f"{parts.hostname or 'file'}-{tail}".strip("-")).lower()


@sources_group.command("add")
@click.argument("url")
@click.option("--name", default=None, help="A short name (default: from the URL).")
@click.option("--kind", type=click.Choice(["auto", *KINDS]), default="auto", show_default=True)
@click.option("--interval", type=int, default=None, help="Seconds between polls of this source.")
@pass_app
def add_cmd(app: App, url: str, name: str | None, kind: str, interval: int | None) -> None:
    """Add a source: a feed URL, arxiv:cs.CL, arxiv:cs.CL+cs.LG or hf:daily."""
    resolved, resolved_kind, short_name = resolve_source(url, kind, lambda u: sniff_kind(app.poller, u))
    with app.db.session() as session:
        source = sources.add_source(session, name or short_name or default_name(resolved), resolved, resolved_kind,
                                    app.clock(), interval)
    console.print(f"added {source.name}: {source.shown_url} ({source.kind})")


@sources_group.command("list")
@json_option
@pass_app
def list_cmd(app: App, as_json: bool) -> None:
    """List the sources with their last poll and error."""
    with app.db.session() as session:
        rows = sources.list_sources(session)
    if as_json:
        emit_json(source_row(s) for s in rows)
        return
    emit_table(("name", "kind", "active", "last polled", "failures", "last error", "url"),
               ((s.name, s.kind, "yes" if s.active else "no", s.last_polled and s.last_polled.strftime("%Y-%m-%d %H:%M"),
                 s.failures, (s.last_error or "")[:60], url_cell(s)) for s in rows), title=f"{len(rows)} sources")


def url_cell(source: Source) -> str:
    """The URL as shown, and a permanent redirect waiting for the operator: `moved permanently to X`."""
    if source.moved_to is None:
        return source.shown_url
    return (f"{source.shown_url}\nmoved permanently to {redact_urls(source.moved_to)} "
            f"(`paperpost sources accept-move {source.name}` follows it)")


@sources_group.command("accept-move")
@click.argument("name")
@pass_app
def accept_move_cmd(app: App, name: str) -> None:
    """Make a source's permanent redirect (shown by `sources list`) its URL."""
    with app.db.session() as session:
        source = sources.accept_move(session, name)
    console.print(f"{name} now polls {source.shown_url}")


@sources_group.command("remove")
@click.argument("name")
@pass_app
def remove_cmd(app: App, name: str) -> None:
    """Remove a source (its papers stay)."""
    with app.db.session() as session:
        sources.remove_source(session, name)
    console.print(f"removed {name}")


@sources_group.command("enable")
@click.argument("name")
@pass_app
def enable_cmd(app: App, name: str) -> None:
    """Switch a source back on (after HTTP 410 or too many failures); its failure count starts again."""
    with app.db.session() as session:
        sources.set_active(session, name, True)
    console.print(f"enabled {name}")


@sources_group.command("disable")
@click.argument("name")
@pass_app
def disable_cmd(app: App, name: str) -> None:
    """Stop polling a source without removing it."""
    with app.db.session() as session:
        sources.set_active(session, name, False)
    console.print(f"disabled {name}")


def poll_line(r: PollReport) -> str:
    """One line per source: new, updated, known, or why it failed."""
    counts = f"{r.new} new, {r.updated} updated, {r.known} known"
    text = {
        "ok": counts,
        "partial": f"{counts} (partial)",
        "not_modified": "not modified",
        "gone": "gone (HTTP 410), switched off",
        "failed": "failed",
    }.get(r.status, r.status)
    line = f"{r.source}: {text} ({r.seconds:.1f} s)"
    if r.moved_to:
        line += (f"\n  moved permanently to {redact_urls(r.moved_to)}; the URL is kept until "
                 f"`paperpost sources accept-move {r.source}`")
    if r.error:
        line += f"\n  {redact_urls(r.error)}"
    return line


def print_poll_reports(reports: list[PollReport]) -> None:
    """Print one line per source report (used by `poll` and `demo`)."""
    for report in reports:
        console.print(poll_line(report), style="red" if report.status in ("failed", "gone") else None)


@cli.command("poll")
@click.option("--source", "names", multiple=True, help="Poll only this source (repeatable); polled even if not due.")
@json_option
@pass_app
def poll_cmd(app: App, names: tuple[str, ...], as_json: bool) -> None:
    """Poll the sources once: new / updated / known / failed per source."""
    def done(report: PollReport) -> None:
        if not as_json:
            print_poll_reports([report])

    # The progress goes to stderr: stdout stays the report (and clean JSON with --json).
    with progress.status("polling…") as status:
        reports = poll_sources(app.db, app.poller, names=names or None, force=True, on_done=done,
                               on_start=lambda s: status.update(f"polling {s.name} ({s.shown_url})…"))
    if as_json:
        emit_json({**r.__dict__, "error": r.error and redact_urls(r.error),
                   "moved_to": r.moved_to and redact_urls(r.moved_to)} for r in reports)
    elif not reports:
        console.print("No active sources; add one with `paperpost sources add URL`.")
