"""The root command group and what every command shares: the App and output helpers."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timezone
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from bot.app import App
from bot.config import load_config

# No markup: the text we print carries titles, addresses and errors, never rich tags.
# Piped output (logs, scripts) gets wide tables instead of rich's 80-column default.
console = Console(highlight=False, markup=False, soft_wrap=True, width=None if sys.stdout.isatty() else 160)


@click.group()
@click.version_option(package_name="paperpost")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """paperpost: new research papers matched to each subscriber's interests, sent as email digests."""
    app = App(load_config())
    ctx.obj = app
    ctx.call_on_close(app.close)


pass_app = click.make_pass_decorator(App)
json_option = click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")


def to_jsonable(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (tuple, list)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: to_jsonable(v) for k, v in value.items()}
    return value


def emit_json(rows: Iterable[dict[str, Any]]) -> None:
    for row in rows:
        click.echo(json.dumps(to_jsonable(row), ensure_ascii=False))


def emit_table(columns: Sequence[str], rows: Iterable[Sequence[Any]], *, title: str | None = None) -> None:
    table = Table(*columns, title=title, show_lines=False)
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    console.print(table)


def parse_date(text: str | None) -> datetime | None:
    """`--since` values: YYYY-MM-DD (UTC midnight)."""
    if text is None:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a date; use YYYY-MM-DD.") from None
    return datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
