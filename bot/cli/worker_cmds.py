"""`paperpost worker` (the scheduler) and `paperpost run` (web pages and worker in one process)."""

from __future__ import annotations

from bot.cli.root import cli
from bot.errors import PaperpostError


@cli.command("worker")
def worker_cmd() -> None:
    """Run the scheduler: poll, match, plan and send on its own."""
    raise PaperpostError("`paperpost worker` is not built yet (issue 7); run `paperpost poll` and `paperpost digest` meanwhile.")


@cli.command("run")
def run_cmd() -> None:
    """The web pages and the worker in one process (the single-machine default)."""
    raise PaperpostError("`paperpost run` is not built yet (issue 7); run `paperpost poll` and `paperpost digest` meanwhile.")
