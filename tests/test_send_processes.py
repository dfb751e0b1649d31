"""`paperpost digest --now` with PAPERPOST_SEND_PROCESSES > 1: child processes send while the command plans.

Every test runs the real command (`python -m bot digest --now`) against a real SMTP server (aiosmtpd) on
127.0.0.1, on SQLite and PostgreSQL: each digest goes out once, a child killed mid-way leaves its rows to
the others, a dead mail server leaves the rows queued and says so, and a stopped command leaves no sender
process behind.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fakebotapi import FakeBotAPI
from mailworld import Clock, add_matches, add_people, make_app
from smtpserver import SmtpSink
from sqlalchemy import text
from telegramworld import add_chats, add_matched_papers

from bot.app import App
from bot.jobs.alerts import plan_alerts
from bot.store import outbox

PROCESSES = 3
WAIT = 120.0  # seconds before a command counts as hung (never reached when it works)


def command_env(env: dict[str, str], database_url: str, **settings: str) -> dict[str, str]:
    return {**os.environ, **env, "DATABASE_URL": database_url, "PAPERPOST_SECRET_KEY": "test-secret",
            "PAPERPOST_BASE_URL": "https://papers.example.org", "PAPERPOST_MAIL_FROM": "paperpost <digest@papers.example.org>",
            "PAPERPOST_SEND_PROCESSES": str(PROCESSES), **settings}


def start_digest(child_env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "bot", "digest", "--now"], env=child_env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def world(env: dict[str, str], database_url: str, people: int, **settings: str) -> tuple[App, list]:
    app = make_app({**env, "DATABASE_URL": database_url}, Clock(datetime.now(UTC)), **settings)
    readers = add_people(app, people)
    add_matches(app, readers, per_person=2)
    return app, readers


def children_of(pid: int) -> list[int]:
    """The pids of `pid`'s child processes (Linux /proc)."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found.extend(int(p) for p in (task / "children").read_text().split())
    return found


def gone(pid: int) -> bool:
    """The process has exited (a zombie counts: it runs no more)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state in ("Z", "X")


def wait_until(condition: Callable[[], bool], timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def sent_by_owner(app: App) -> dict[str, int]:
    """Sent rows per owner's roles (`digest`: the command itself; `send`: a sender process)."""
    with app.db.engine.connect() as connection:
        rows = connection.execute(text("SELECT w.roles, count(*) FROM outbox o JOIN workers w ON w.id = o.owner_id "
                                       "WHERE o.state = 'sent' GROUP BY w.id, w.roles")).all()
    return {f"{roles}#{n}": count for n, (roles, count) in enumerate(rows)}


def test_several_processes_send_each_digest_once(env, database_url):
    sink = SmtpSink().start()
    try:
        app, people = world(env, database_url, 400)
        ran = subprocess.run([sys.executable, "-m", "bot", "digest", "--now"], capture_output=True, text=True,
                             env=command_env(env, database_url, PAPERPOST_SMTP_URL=sink.url), timeout=WAIT)
        assert ran.returncode == 0, ran.stderr
        assert re.search(r"planned 400, sent 400, failed 0", ran.stdout), ran.stdout
        per_person = Counter(r.recipients[0] for r in sink.received)
        assert per_person == Counter({p.email: 1 for p in people})
        with app.db.session() as session:
            assert outbox.backlog(session) == {"sent": 400}
        by_owner = sent_by_owner(app)
        assert all(owner.startswith("send") for owner in by_owner), by_owner  # the children sent them all
        assert sum(by_owner.values()) == 400
        app.close()
    finally:
        sink.stop()


def test_a_killed_sender_process_leaves_its_rows_to_the_others(env, database_url):
    sink = SmtpSink().start()
    try:
        app, people = world(env, database_url, 400)
        digest = start_digest(command_env(env, database_url, PAPERPOST_SMTP_URL=sink.url,
                                          PAPERPOST_SMTP_CONNECTIONS="2"))
        killed: list[int] = []

        def kill_a_sender_holding_rows(count: int) -> None:
            if count != 60 or killed:
                return
            with app.db.engine.connect() as connection:
                pid = connection.execute(text(
                    "SELECT w.pid FROM outbox o JOIN workers w ON w.id = o.owner_id "
                    "WHERE o.state = 'sending' AND w.roles = 'send' LIMIT 1")).scalar()
            assert pid in children_of(digest.pid)
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

        sink.handler.on_message = kill_a_sender_holding_rows
        out, err = digest.communicate(timeout=WAIT)
        assert digest.returncode == 0, err
        assert killed, out
        assert f"sender process {killed[0]} ended early (killed by signal 9)" in out, out
        taken = re.search(r"took back (\d+) messages? left by a stopped process", out)
        assert taken is not None and int(taken.group(1)) >= 1, out
        with app.db.session() as session:
            assert outbox.backlog(session) == {"sent": 400}
        per_person = Counter(r.recipients[0] for r in sink.received)
        assert set(per_person) == {p.email for p in people}
        # The documented window: the killed process may have had one accepted message per connection unrecorded.
        assert sum(n - 1 for n in per_person.values()) <= 2
        app.close()
    finally:
        sink.stop()


def test_with_the_mail_server_down_the_command_ends_at_once_with_the_rows_queued(env, database_url):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app, people = world(env, database_url, 120)
    started = time.monotonic()
    ran = subprocess.run([sys.executable, "-m", "bot", "digest", "--now"], capture_output=True, text=True,
                         env=command_env(env, database_url, PAPERPOST_SMTP_URL=f"smtp://127.0.0.1:{port}"),
                         timeout=WAIT)
    assert ran.returncode == 0, ran.stderr
    assert time.monotonic() - started < 30
    assert "planned 120, sent 0, failed 0" in ran.stdout, ran.stdout
    assert "120 left queued: the mail server could not be reached" in ran.stdout, ran.stdout
    with app.db.session() as session:
        assert {(i.state, i.attempts) for i in outbox.list_outbox(session)} == {("queued", 0)}
    app.close()


def test_telegram_rows_are_sent_by_the_sender_processes_too(env, database_url):
    sink = SmtpSink().start()
    with FakeBotAPI() as server:
        try:
            telegram = {"PAPERPOST_TELEGRAM_TOKEN": server.token, "PAPERPOST_TELEGRAM_API_URL": server.base_url}
            app, people = world(env, database_url, 50, **telegram)
            chats = add_chats(app, 30)
            add_matched_papers(app, chats, 1)
            assert plan_alerts(app.db, app.clock()).alerts == 30
            ran = subprocess.run([sys.executable, "-m", "bot", "digest", "--now"], capture_output=True, text=True,
                                 env=command_env(env, database_url, PAPERPOST_SMTP_URL=sink.url, **telegram),
                                 timeout=WAIT)
            assert ran.returncode == 0, ran.stderr
            assert "planned 50, sent 80, failed 0" in ran.stdout, ran.stdout
            assert Counter(r.recipients[0] for r in sink.received) == Counter({p.email: 1 for p in people})
            assert Counter(call.chat_id for call in server.sent()) == Counter({c.telegram_chat_id: 1 for c in chats})
            assert all(owner.startswith("send") for owner in sent_by_owner(app))
            app.close()
        finally:
            sink.stop()


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL])
def test_a_stopped_command_leaves_no_sender_process_and_the_next_run_sends_the_rest(env, database_url, how):
    sink = SmtpSink().start()
    try:
        app, people = world(env, database_url, 300)
        child_env = command_env(env, database_url, PAPERPOST_SMTP_URL=sink.url)
        digest = start_digest(child_env)
        senders: list[int] = []

        def stop_the_command(count: int) -> None:
            time.sleep(0.01)  # a slow server: the command is still sending when it is stopped
            if count == 40:
                senders.extend(children_of(digest.pid))
                os.kill(digest.pid, how)

        sink.handler.on_message = stop_the_command
        digest.communicate(timeout=WAIT)
        sink.handler.on_message = None
        # SIGTERM ends the command as Ctrl-C does ("Aborted.", exit code 1), once its senders have stopped.
        assert digest.returncode == (-how if how == signal.SIGKILL else 1), digest.returncode
        assert len(senders) == PROCESSES
        assert wait_until(lambda: all(gone(pid) for pid in senders)), "a sender process outlived the command"
        first = len(sink.received)
        assert first < len(people)

        rerun = subprocess.run([sys.executable, "-m", "bot", "digest", "--now"], capture_output=True, text=True,
                               env=child_env, timeout=WAIT)
        assert rerun.returncode == 0, rerun.stderr
        with app.db.session() as session:
            assert outbox.backlog(session) == {"sent": 300}
        per_person = Counter(r.recipients[0] for r in sink.received)
        assert set(per_person) == {p.email for p in people}
        duplicates = sum(n - 1 for n in per_person.values())
        # Stopped (SIGTERM): the senders record what they sent and hand back the rest: nothing twice.
        # Killed: the crash window, at most one per connection of each process (4 connections each).
        assert duplicates == 0 if how == signal.SIGTERM else duplicates <= 4 * PROCESSES
        app.close()
    finally:
        sink.stop()
