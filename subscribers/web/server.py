"""A uvicorn server for the pages, to run alone (`paperpost web`) or beside the worker (`paperpost run`)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import uvicorn
from uvicorn.config import LOGGING_CONFIG

from bot.app import App
from bot.logs import LOGGER_NAME
from subscribers.web.routes import Limits, create_app


def log_config() -> dict[str, Any]:
    """uvicorn's own logging, with secrets (link tokens) blanked on every handler, ours included."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {"redact": {"()": "bot.logs.RedactSecrets"}}
    for handler in config["handlers"].values():
        handler["filters"] = ["redact"]
    # Without `setup_logging` (`paperpost web`), our own lines (a 500's one line) use uvicorn's handler.
    config["loggers"][LOGGER_NAME] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return config


def build_server(app: App, host: str, port: int, *, wake_sender: Callable[[], None] | None = None,
                 log_level: str = "info", access_log: bool = False, limits: Limits | None = None) -> uvicorn.Server:
    """A ready uvicorn.Server: `server.run()` blocks; `server.should_exit = True` stops it."""
    proxies = app.config["PAPERPOST_TRUSTED_PROXIES"]
    config = uvicorn.Config(
        create_app(app, wake_sender=wake_sender, limits=limits), host=host, port=port, log_level=log_level,
        # X-Forwarded-For and -Proto are believed from the named proxies only (none by default); the pages
        # pick the client the same way (subscribers/web/clients.py), whichever server runs them.
        proxy_headers=bool(proxies), forwarded_allow_ips=",".join(proxies) or None,
        server_header=False, lifespan="off", timeout_keep_alive=5, limit_concurrency=200,
        access_log=access_log,  # off by default; when on, its lines are redacted like every other
        log_config=log_config(),
    )
    return uvicorn.Server(config)
