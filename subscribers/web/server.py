"""A uvicorn server for the pages, to run alone (`paperpost web`) or beside the worker (`paperpost run`)."""

from __future__ import annotations

from collections.abc import Callable

import uvicorn

from bot.app import App
from subscribers.web.routes import create_app


def build_server(app: App, host: str, port: int, *, wake_sender: Callable[[], None] | None = None,
                 log_level: str = "info", access_log: bool = False) -> uvicorn.Server:
    """A ready uvicorn.Server: `server.run()` blocks; `server.should_exit = True` stops it."""
    config = uvicorn.Config(
        create_app(app, wake_sender=wake_sender), host=host, port=port, log_level=log_level,
        proxy_headers=True,  # client IPs for rate limits from X-Forwarded-For, trusted from FORWARDED_ALLOW_IPS only
        server_header=False, lifespan="off", timeout_keep_alive=5, limit_concurrency=200,
        access_log=access_log,  # off by default: request lines carry the signed links of subscribers
    )
    return uvicorn.Server(config)
