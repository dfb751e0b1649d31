"""The webhook: a POST with a wrong or missing secret header gets 403 and changes nothing; the right one is handled
once (Telegram's retry of the same update is not), and the path secret never reaches a log line."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from fakebotapi import FakeBotAPI
from starlette.applications import Starlette
from starlette.testclient import TestClient
from telegramworld import telegram_app

from bot.store import subscribers, telegram_state
from bot.logs import REDACTED, RedactSecrets
from subscribers.web.telegram_webhook import (SECRET_HEADER, register_webhook,
                                              telegram_webhook_routes, webhook_secret)


def test_the_webhook_checks_its_secret_header_and_takes_each_update_once(env):
    with FakeBotAPI() as server:
        app = telegram_app(env, server, lambda: datetime.now(UTC))
        web = TestClient(Starlette(routes=telegram_webhook_routes(app)))
        secret = webhook_secret(app.config)
        update_id = server.user_writes(42, "/start")
        body = server.update_json(update_id)
        for path, headers in ((f"/telegram/{secret}", {}), (f"/telegram/{secret}", {SECRET_HEADER: "wrong"}),
                              ("/telegram/wrong", {SECRET_HEADER: secret})):
            assert web.post(path, json=body, headers=headers).status_code == 403
        with app.db.session() as session:
            assert subscribers.find_by_identifier(session, "tg:42") is None
            assert telegram_state.last_update_id(session) is None
        assert server.sent() == []

        for _ in range(2):  # Telegram retries what it thinks failed
            assert web.post(f"/telegram/{secret}", json=body, headers={SECRET_HEADER: secret}).status_code == 200
        assert len(server.sent(42)) == 1 and "Welcome" in server.sent(42)[0].params["text"]
        assert web.post(f"/telegram/{secret}", content=b"{no", headers={SECRET_HEADER: secret}).status_code == 400

        register_webhook(app)
        assert server.webhook == {"url": f"https://papers.example.org/telegram/{secret}", "secret_token": secret,
                                  "allowed_updates": ["message", "callback_query"]}
        app.close()


def test_the_path_secret_is_kept_out_of_log_lines():
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:5000", "POST", "/telegram/s3cr3t-VALUE", "1.1", 200), None)
    assert RedactSecrets().filter(record)  # the one filter on every handler (bot.logs)
    assert "s3cr3t" not in record.getMessage() and f"/telegram/{REDACTED}" in record.getMessage()
