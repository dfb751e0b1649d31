"""`paperpost web`: the subscription pages."""

from __future__ import annotations

import click

from bot.app import App
from bot.cli.root import cli, pass_app


@cli.command("web")
@click.option("--host", default="0.0.0.0", show_default=True, help="Address to listen on (127.0.0.1: this machine only).")
@click.option("--port", type=int, default=None, help="Port to listen on. Default: the PORT setting.")
@pass_app
def web_cmd(app: App, host: str, port: int | None) -> None:
    """Serve the subscription pages (sign up, confirm, manage, unsubscribe) on PORT."""
    from subscribers.web.server import build_server  # imported here: uvicorn costs every other command ~0.7 s
    from subscribers.web.telegram_webhook import register_webhook_if_wanted

    app.db  # noqa: B018 - open and migrate the database before the first visitor, not during their request
    server = build_server(app, host, port or app.config["PORT"])
    register_webhook_if_wanted(app)
    server.run()
