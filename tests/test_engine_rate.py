"""PAPERPOST_SMTP_RATE holds across processes: two senders on one PostgreSQL database together stay under it."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime

import pytest
from mailworld import Clock, add_matches, add_people, make_app
from smtpserver import SmtpSink

from bot.jobs.plan import plan_digests

RATE = 20
PEOPLE = 80

# A sender process: registered, claiming small batches so that both processes share the rows.
RUNNER = """
from bot.app import App
from bot.config import load_config
from bot.jobs.cycle import sender_owner
from bot.jobs.send import send_pending
app = App(load_config())
channels = app.channels()
with sender_owner(app) as owner:
    report = send_pending(app.db, channels, app.mail_context, owner, batch=4)
app.close_channels(channels)
print(report.sent)
"""


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # several senders: the PostgreSQL setup
def test_two_sender_processes_together_stay_under_the_rate(env, database_url):
    sink = SmtpSink().start()
    try:
        settings = {"DATABASE_URL": database_url, "PAPERPOST_SMTP_URL": sink.url, "PAPERPOST_SMTP_RATE": str(RATE),
                    "PAPERPOST_SMTP_CONNECTIONS": "2"}
        app = make_app(env, Clock(datetime.now(UTC)), **settings)  # the children plan nothing stale
        people = add_people(app, PEOPLE)
        add_matches(app, people, per_person=1)
        assert plan_digests(app.db, app.clock(), ignore_hour=True).planned == PEOPLE
        app.close()

        times: list[float] = []
        lock = threading.Lock()

        def arrived(count: int) -> None:
            with lock:
                times.append(time.monotonic())

        sink.handler.on_message = arrived
        child_env = {**os.environ, **env, **settings, "PAPERPOST_SECRET_KEY": "test-secret",
                     "PAPERPOST_BASE_URL": "https://papers.example.org",
                     "PAPERPOST_MAIL_FROM": "paperpost <digest@papers.example.org>"}
        senders = [subprocess.Popen([sys.executable, "-c", RUNNER], env=child_env, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True) for _ in range(2)]
        outputs = [s.communicate(timeout=120) for s in senders]
        assert [s.returncode for s in senders] == [0, 0], [err for _, err in outputs]
        sent = [int(out.strip().splitlines()[-1]) for out, _ in outputs]

        assert sum(sent) == PEOPLE and min(sent) >= 10, sent  # both sent, side by side
        assert Counter(r.recipients[0] for r in sink.received) == Counter({p.email: 1 for p in people})
        times.sort()
        # Any two seconds hold at most 2 x RATE messages; 2 more allowed for the receive-time jitter on loopback
        # (a loaded machine bunches arrivals at a window's ends; two senders each at the rate would give ~2x).
        busiest = max(sum(1 for t in times[i:] if t < start + 2.0) for i, start in enumerate(times))
        assert busiest <= 2 * RATE + 2, busiest
        overall = (len(times) - 1) / (times[-1] - times[0])
        assert overall <= RATE * 1.05, overall
    finally:
        sink.stop()
