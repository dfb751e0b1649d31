"""Telegram pacing holds across processes: 200 alerts to 50 chats, sent by two sender processes on one database,
keep to 1 per second per chat and 30 per second overall, measured from the times the fake Bot API server recorded."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter, defaultdict
from datetime import UTC, datetime

import pytest
from fakebotapi import FakeBotAPI
from telegramworld import add_chats, add_matched_papers, telegram_app

from bot.jobs.alerts import plan_alerts

CHATS, PER_CHAT, RATE = 50, 4, 30

RUNNER = """
import sys
from bot.app import App
from bot.config import load_config
from bot.jobs.cycle import sender_owner
from bot.jobs.send import send_pending
app = App(load_config())
channels = [c for c in app.channels() if c.name == "telegram"]
with sender_owner(app) as owner:
    print("ready", flush=True)
    sys.stdin.readline()  # both processes start sending together
    report = send_pending(app.db, channels, app.mail_context, owner, batch=10)
app.close_channels(channels)
app.close()
print(report.sent)
"""


def busiest_second(times: list[float]) -> int:
    times = sorted(times)
    return max(sum(1 for t in times[i:] if t < start + 1.0) for i, start in enumerate(times))


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # several senders: the PostgreSQL setup
def test_two_sender_processes_keep_one_per_second_per_chat_and_thirty_overall(env, database_url):
    with FakeBotAPI() as server:
        settings = {"DATABASE_URL": database_url, "PAPERPOST_TELEGRAM_RATE": str(RATE)}
        app = telegram_app(env, server, lambda: datetime.now(UTC), **settings)
        people = add_chats(app, CHATS)
        add_matched_papers(app, people, PER_CHAT)
        assert plan_alerts(app.db, app.clock()).alerts == CHATS * PER_CHAT
        app.close()
        child_env = {**os.environ, **env, **settings, "PAPERPOST_SECRET_KEY": "test-secret",
                     "PAPERPOST_TELEGRAM_TOKEN": server.token, "PAPERPOST_TELEGRAM_API_URL": server.base_url}
        senders = [subprocess.Popen([sys.executable, "-c", RUNNER], env=child_env, stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
        for sender in senders:
            assert sender.stdout.readline().strip() == "ready", sender.stderr.read()
        for sender in senders:
            sender.stdin.write("go\n")
            sender.stdin.flush()
        outputs = [s.communicate(timeout=120) for s in senders]
        assert [s.returncode for s in senders] == [0, 0], [err for _, err in outputs]
        sent = [int(out.strip().splitlines()[-1]) for out, _ in outputs]

        delivered = server.sent()
        assert sum(sent) == len(delivered) == CHATS * PER_CHAT and min(sent) >= 20, (sent, [e[-3000:] for _, e in outputs])
        assert Counter(c.chat_id for c in delivered) == Counter({p.telegram_chat_id: PER_CHAT for p in people})
        per_chat: dict[str, list[float]] = defaultdict(list)
        for call in delivered:
            per_chat[call.chat_id].append(call.at)
        closest = min(b - a for times in per_chat.values() for a, b in zip(sorted(times), sorted(times)[1:]))
        busiest = busiest_second([c.at for c in delivered])
        span = max(c.at for c in delivered) - min(c.at for c in delivered)
        print(f"\npacing: {len(delivered)} messages in {span:.2f} s by processes {sent}; busiest second {busiest}; "
              f"closest two to one chat {closest:.3f} s")
        assert closest >= 1.0, closest
        assert busiest <= RATE, busiest
