"""The `paperpost` command: parses arguments, wires adapters through App, calls one function per command."""

from __future__ import annotations

import sys

import click

from bot.cli.root import cli
from bot.errors import PaperpostError

# Importing the command modules registers their commands on `cli`.
from bot.cli import (  # noqa: E402,F401
    demo_cmd, digest_cmds, paper_cmds, service_cmds, source_cmds, stats_cmd, subscriber_cmds, web_cmd, worker_cmds,
)
from bot.cli import feedback_cmd  # noqa: E402,F401
from bot.cli import recommend_cmd  # noqa: E402,F401


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; our errors become one sentence on stderr and exit code 1, never a traceback."""
    try:
        cli.main(args=argv, prog_name="paperpost", standalone_mode=False)
    except PaperpostError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(1)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)
