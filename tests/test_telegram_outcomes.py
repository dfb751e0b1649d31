"""The Telegram outcome table, walked row by row: the real client meets each answer of the fake Bot API server,
and the sender returns the engine's outcome that the table names."""

from __future__ import annotations

import pytest
from fakebotapi import FakeBotAPI
from telegram import error

from bot.channels.telegram.bridge import BotBridge
from bot.channels.telegram.message import Part, TelegramMessage
from bot.channels.telegram.outcome_table import TELEGRAM_OUTCOMES
from bot.channels.telegram.sender import TelegramSender
from bot.store import open_database

# error class -> how the fake server provokes it for chat 42
PROVOKE = {
    error.RetryAfter: dict(status=429, retry_after=5),
    error.ChatMigrated: dict(status=400, migrate_to=-10042, times=2),  # the new id refuses too: see the last row
    error.Forbidden: dict(status=403),
    error.InvalidToken: dict(status=401, description="Unauthorized"),
    error.BadRequest: dict(status=400),
    error.TimedOut: dict(status=200, delay=2.5),
    error.Conflict: dict(status=409, description="Conflict"),
    error.NetworkError: dict(status=502, description="Bad Gateway"),
    error.TelegramError: dict(status=200, raw=b"not json"),
}


def test_every_row_of_the_table_is_provoked_here():
    assert set(PROVOKE) == {cls for cls, _, _ in TELEGRAM_OUTCOMES}


@pytest.mark.parametrize("cls, kind", [(cls, kind) for cls, kind, _ in TELEGRAM_OUTCOMES], ids=lambda v: getattr(v, "__name__", v))
def test_each_bot_api_answer_gives_its_outcome(tmp_path, cls, kind):
    db = open_database(f"sqlite:///{tmp_path / 'db.sqlite'}")
    with FakeBotAPI() as server:
        how = dict(PROVOKE[cls])
        server.fail(42, how.pop("status"), **how)
        if cls is error.ChatMigrated:
            server.fail(-10042, 500, description="Internal Server Error")
        bridge = BotBridge(server.token, server.base_url, timeout=1.0)
        try:
            outcome = TelegramSender(bridge, db, rate=0).send(TelegramMessage(1, 1, "42", (Part("hello", (), ("p",)),)))
        finally:
            bridge.close()
    db.dispose()
    assert outcome.kind == kind, outcome
    if cls is error.RetryAfter:
        assert outcome.seconds == 5
