"""`paperpost worker` with a Telegram token: it long-polls the chat commands as the planner, alerts a chat that
subscribed within seconds of the poll that found its paper, and stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime

from fakebotapi import FakeBotAPI
from telegram_html import check_message
from telegramworld import telegram_app

from bot.config import SEEDS_DIR
from bot.store import sources, telegram_state

CHAT = 777001


def test_the_worker_answers_commands_sends_the_alert_and_stops_on_sigterm(env):
    with FakeBotAPI() as server:
        app = telegram_app(env, server, lambda: datetime.now(UTC))
        child_env = {**os.environ, **env, "PAPERPOST_SECRET_KEY": "test-secret",
                     "PAPERPOST_BASE_URL": "https://papers.example.org", "PAPERPOST_TELEGRAM_TOKEN": server.token,
                     "PAPERPOST_TELEGRAM_API_URL": server.base_url, "PAPERPOST_SEND_INTERVAL": "1",
                     "PAPERPOST_PLAN_INTERVAL": "1", "PAPERPOST_POLL_INTERVAL": "2"}
        server.user_writes(CHAT, "/start")
        server.user_writes(CHAT, '/subscribe "reward model"')
        worker = subprocess.Popen([sys.executable, "-m", "bot", "worker"], env=child_env, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True)
        try:
            assert server.wait_for(lambda: len(server.sent(CHAT)) >= 2, timeout=30), server.calls
            with app.db.session() as session:  # the paper arrives now: polled by the worker's next poll job
                sources.ensure_source(session, "seeds", (SEEDS_DIR / "papers.json").as_uri(), "hf", app.clock())
            added = time.time()
            assert server.wait_for(lambda: len(server.sent(CHAT)) >= 3, timeout=90), server.calls
        finally:
            worker.send_signal(signal.SIGTERM)
            output, _ = worker.communicate(timeout=30)
        assert worker.returncode == 0, output
        assert "worker.stop clean=True" in output, output
        alert = server.sent(CHAT)[2]
        assert "reward model" in check_message(alert.params["text"]).text.lower()
        with app.db.session() as session:
            assert telegram_state.last_update_id(session) == max(u for u in range(1001, 1003))
        print(f"\nalert {alert.at - added:.1f} s after the source was added; transcript:")
        for call in server.calls:
            if call.method in ("sendMessage", "getUpdates", "answerCallbackQuery", "editMessageText"):
                shown = call.params.get("text", "")[:100].replace("\n", " | ")
                print(f"  {call.at - server.calls[0].at:7.2f} s  {call.method} {call.params.get('chat_id', '')} {shown}")
        app.close()
