"""The Telegram webhook (PAPERPOST_TELEGRAM_WEBHOOK=1): `POST /telegram/{secret}` on the web app, instead of long
polling in the worker.

Telegram is told the URL and a secret token (`register_webhook`); every POST must carry
both, the path secret and the `X-Telegram-Bot-Api-Secret-Token` header, or it gets 403
and changes nothing. Telegram retries a webhook it thinks failed: the update id is
taken in the database first, so a retried update is not handled twice. The path
secret is kept out of every log line by bot.logs.RedactSecrets, like every link token.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from telegram import Update

from bot.app import App
from bot.config import Config, require_secret_key
from bot.logs import log_event
from bot.store import telegram_state

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


def webhook_secret(config: Config) -> str:
    """PAPERPOST_TELEGRAM_WEBHOOK_SECRET, or one derived from the signing key (Telegram allows [A-Za-z0-9_-])."""
    if config["PAPERPOST_TELEGRAM_WEBHOOK_SECRET"]:
        return config["PAPERPOST_TELEGRAM_WEBHOOK_SECRET"]
    return hmac.new(require_secret_key(config).encode(), b"telegram-webhook", hashlib.sha256).hexdigest()[:48]


def webhook_wanted(config: Config) -> bool:
    """PAPERPOST_TELEGRAM_WEBHOOK=1: chat commands come to the web app (the worker does not poll for them)."""
    return config["PAPERPOST_TELEGRAM_WEBHOOK"] == "1"


def webhook_url(config: Config) -> str:
    return f"{config.base_url}/telegram/{webhook_secret(config)}"


def telegram_webhook_routes(app: App, handle: Callable[[Update], None] | None = None) -> list[Route]:
    """The webhook route; `handle` defaults to the chat commands (subscribers.telegram) on the app's bot."""
    if handle is None:
        from subscribers.telegram.replies import UpdateHandler

        handle = UpdateHandler(app)
    secret = webhook_secret(app.config)

    async def receive(request: Request) -> Response:
        given = request.path_params["secret"]
        header = request.headers.get(SECRET_HEADER, "")
        if not (hmac.compare_digest(given.encode(), secret.encode())
                and hmac.compare_digest(header.encode(), secret.encode())):
            log_event("telegram.webhook_refused", level=logging.WARNING, header=bool(header))
            return PlainTextResponse("Forbidden", status_code=403)
        try:
            update = Update.de_json(await request.json(), None)
        except Exception:  # noqa: BLE001 - whatever the body is, it is not an update: say so, change nothing
            return PlainTextResponse("Not a Telegram update", status_code=400)
        if update is None:
            return PlainTextResponse("Not a Telegram update", status_code=400)
        with app.db.session() as session:
            fresh = telegram_state.take_update(session, update.update_id)
        if fresh:
            await run_in_threadpool(handle, update)
        return Response(status_code=200)

    return [Route("/telegram/{secret}", receive, methods=["POST"])]


def register_webhook_if_wanted(app: App) -> None:
    """At web start: tell Telegram the webhook when PAPERPOST_TELEGRAM_WEBHOOK=1 (a failure is logged, the pages go on)."""
    if not webhook_wanted(app.config):
        return
    try:
        register_webhook(app)
    except Exception as exc:  # noqa: BLE001 - Telegram down or a bad token must not keep the pages from serving
        log_event("telegram.webhook_failed", level=logging.ERROR, error=f"{exc.__class__.__name__}: {exc}")


def register_webhook(app: App) -> None:
    """Tell Telegram where to POST updates, with the secret token (the web app calls this at start)."""
    bridge = app.telegram
    if bridge is None:
        raise ValueError("PAPERPOST_TELEGRAM_WEBHOOK=1 needs PAPERPOST_TELEGRAM_TOKEN")
    secret = webhook_secret(app.config)
    bridge.call(lambda bot: bot.set_webhook(webhook_url(app.config), secret_token=secret,
                                            allowed_updates=["message", "callback_query"]))
    log_event("telegram.webhook", url=f"{app.config.base_url}/telegram/***")
