"""`paperpost web`: the subscription pages."""

from __future__ import annotations

from bot.cli.root import cli
from bot.errors import PaperpostError


@cli.command("web")
def web_cmd() -> None:
    """Serve the subscription pages on PORT."""
    raise PaperpostError("`paperpost web` is not built yet (issue 6); use the CLI commands meanwhile.")
