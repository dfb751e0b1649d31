"""`paperpost db upgrade`, and the long-running commands `web`, `worker`, `run`."""

from __future__ import annotations

import click

from bot.app import App
from bot.cli.root import cli, console, pass_app
from bot.errors import PaperpostError


@cli.group("db")
def db_group() -> None:
    """Database maintenance."""


@db_group.command("upgrade")
@pass_app
def upgrade_cmd(app: App) -> None:
    """Apply pending migrations (also done on every start)."""
    app.db.upgrade()
    console.print(f"database is up to date ({app.config.database_url})")


@cli.command("web")
def web_cmd() -> None:
    """Serve the subscription pages on PORT."""
    raise PaperpostError("`paperpost web` is not built yet (issue 6); use the CLI commands meanwhile.")


@cli.command("worker")
def worker_cmd() -> None:
    """Run the scheduler: poll, match, plan and send on its own."""
    raise PaperpostError("`paperpost worker` is not built yet (issue 7); run `paperpost poll` and `paperpost digest` meanwhile.")


@cli.command("run")
def run_cmd() -> None:
    """The web pages and the worker in one process (the single-machine default)."""
    raise PaperpostError("`paperpost run` is not built yet (issue 7); run `paperpost poll` and `paperpost digest` meanwhile.")
