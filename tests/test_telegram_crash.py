"""A worker SIGKILLed in the middle of sending alerts, started again, sends every alert and none twice, but for the
documented window (docs/telegram.md): a message Telegram accepted just before the process died, at most one per
connection in flight."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime

from fakebotapi import FakeBotAPI
from telegramworld import add_chats, add_matched_papers, telegram_app

from bot.jobs.alerts import plan_alerts
from bot.store import outbox

CHATS, KILL_AT, CONNECTIONS = 60, 25, 4


def test_a_worker_killed_mid_alerts_and_restarted_sends_each_alert_once_but_for_the_window(env):
    child: subprocess.Popen | None = None

    def kill_mid_way(call) -> None:  # type: ignore[no-untyped-def]
        # The server has this message and the client will never hear the answer: the window.
        if call.method == "sendMessage" and child is not None and len(server.calls_to("sendMessage")) == KILL_AT:
            os.kill(child.pid, signal.SIGKILL)

    with FakeBotAPI(on_call=kill_mid_way) as server:
        settings = {"PAPERPOST_TELEGRAM_CONNECTIONS": str(CONNECTIONS), "PAPERPOST_TELEGRAM_TIMEOUT": "2",
                    "PAPERPOST_SEND_INTERVAL": "1"}
        app = telegram_app(env, server, lambda: datetime.now(UTC), **settings)
        people = add_chats(app, CHATS)
        add_matched_papers(app, people, 1)
        add_matched_papers(app, people[:5], 7, tag="g")  # and five grouped messages
        planned = plan_alerts(app.db, app.clock())
        assert (planned.alerts, planned.grouped) == (CHATS - 5, 5)
        child_env = {**os.environ, **env, **settings, "PAPERPOST_SECRET_KEY": "test-secret",
                     "PAPERPOST_TELEGRAM_TOKEN": server.token, "PAPERPOST_TELEGRAM_API_URL": server.base_url}
        worker = [sys.executable, "-m", "bot", "worker", "--jobs", "send"]
        child = subprocess.Popen(worker, env=child_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        child.wait(timeout=60)
        assert child.returncode == -signal.SIGKILL
        first = len(server.sent())
        assert KILL_AT <= first < CHATS

        child = None
        again = subprocess.Popen(worker, env=child_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                with app.db.session() as session:
                    if outbox.backlog(session) == {"sent": CHATS}:
                        break
                time.sleep(0.3)
        finally:
            again.send_signal(signal.SIGTERM)
            output, _ = again.communicate(timeout=30)
        assert again.returncode == 0, output  # SIGTERM stops it cleanly
        with app.db.session() as session:
            assert outbox.backlog(session) == {"sent": CHATS}
        assert "send.recover" in output  # it took the killed worker's rows back at once

    delivered = Counter()
    for call in server.sent():
        delivered.update((call.chat_id, title) for title in re.findall(r"calibration, part (\w+)", call.params["text"]))
    wanted = {(p.telegram_chat_id, "a0") for p in people} | {(p.telegram_chat_id, f"g{n}") for p in people[:5]
                                                              for n in range(7)}
    assert set(delivered) == wanted
    twice = sum(n - 1 for n in delivered.values())
    print(f"\ncrash: {first} messages before the kill, {len(server.sent())} in all, {twice} papers delivered twice")
    assert twice <= CONNECTIONS, delivered
    app.close()
