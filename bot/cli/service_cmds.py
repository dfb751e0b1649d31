"""`paperpost db upgrade`."""

from __future__ import annotations

from bot.app import App
from bot.cli.root import cli, console, pass_app
from bot.store.database import shown_url


@cli.group("db")
def db_group() -> None:
    """Database maintenance."""


@db_group.command("upgrade")
@pass_app
def upgrade_cmd(app: App) -> None:
    """Apply pending migrations (also done on every start); one upgrader at a time, the others wait."""
    app.db.upgrade()  # opening the database already upgraded it under the lock; this second pass finds nothing to do
    console.print(f"database is up to date ({shown_url(app.config.database_url)})")  # logged: no password
