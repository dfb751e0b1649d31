"""`paperpost db upgrade`."""

from __future__ import annotations


from bot.app import App
from bot.cli.root import cli, console, pass_app


@cli.group("db")
def db_group() -> None:
    """Database maintenance."""


@db_group.command("upgrade")
@pass_app
def upgrade_cmd(app: App) -> None:
    """Apply pending migrations (also done on every start)."""
    app.db.upgrade()
    console.print(f"database is up to date ({app.config.database_url})")
