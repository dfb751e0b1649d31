"""The job runs by itself: `paperpost run` / `paperpost worker` as real processes, with a local feed and SMTP server.

Each test starts the command as a subprocess with 1-second intervals, feeds it an
arXiv fixture from tests/feedserver.py and receives mail in tests/smtpserver.py.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path

import httpx
import pytest

from bot.models import SubscriberInput
from bot.store import heartbeats, open_database, outbox, sources, subscribers
from feedserver import FeedServer
from smtpserver import SmtpSink

REPO = Path(__file__).resolve().parent.parent
FEED = (Path(__file__).parent / "fixtures" / "arxiv_rss_atom_new_format.xml").read_bytes()
FEED_PATH = "/atom/cs.AI"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def feed() -> Iterator[FeedServer]:
    server = FeedServer().start()
    server.route(FEED_PATH, body=FEED, etag='"cs-ai-1"', headers={"Content-Type": "application/atom+xml"})
    yield server
    server.stop()


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    server = SmtpSink().start()
    yield server
    server.stop()


@pytest.fixture
def proc_env(tmp_path: Path, sink: SmtpSink) -> dict[str, str]:
    """The environment of the processes under test: their own data dir, 1-second jobs, mail to the sink."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERPOST_") and k not in ("DATABASE_URL", "PORT")}
    env.update(PAPERPOST_DATA=str(tmp_path / "data"), PAPERPOST_CONFIG=str(tmp_path / "none.toml"),
               PAPERPOST_POLL_INTERVAL="1", PAPERPOST_PLAN_INTERVAL="1", PAPERPOST_SMTP_URL=sink.url,
               PORT=str(free_port()), PYTHONPATH=str(REPO))
    return env


class Process:
    """One `python -m bot ...` process; its log (stderr) goes to a file the test can read."""

    def __init__(self, env: dict[str, str], log: Path, *args: str):
        self.log_path = log
        self._log = log.open("ab")
        self.popen = subprocess.Popen([sys.executable, "-m", "bot", *args], env=env, cwd=REPO,
                                      stdout=self._log, stderr=self._log)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for_log(self, text: str, timeout: float = 20.0) -> None:
        wait_until(lambda: text in self.log() or self.popen.poll() is not None, timeout, f"{text!r} in the log")
        assert text in self.log(), self.log()

    def terminate(self, timeout: float = 10.0) -> tuple[int, float]:
        """SIGTERM; (exit code, seconds it took to exit)."""
        started = time.monotonic()
        self.popen.send_signal(signal.SIGTERM)
        code = self.popen.wait(timeout)
        self._log.close()
        return code, time.monotonic() - started

    def kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait(10)
        self._log.close()


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot", *args], env=env, cwd=REPO, capture_output=True, text=True,
                          timeout=60)


def database(env: dict[str, str]):  # type: ignore[no-untyped-def]
    return open_database(f"sqlite:///{Path(env['PAPERPOST_DATA']) / 'paperpost.db'}")


def jobs_finished_since(env: dict[str, str], since: datetime, names: tuple[str, ...] = ("poll", "plan", "send")) -> bool:
    """True when each named job of the worker finished a run that started after `since`."""
    db = database(env)
    try:
        with db.session() as session:
            beats = {b.job: b for b in heartbeats.list_heartbeats(session)}
    finally:
        db.dispose()
    return all(n in beats and beats[n].last_started and beats[n].last_started > since and not beats[n].running
               and beats[n].last_finished and beats[n].last_finished > beats[n].last_started for n in names)


def test_run_sends_the_digest_on_its_own_and_never_twice_a_day(proc_env, feed, sink, tmp_path):
    run = Process(proc_env, tmp_path / "run1.log", "run")
    run.wait_for_log("worker.start")
    # Added while it runs, through the CLI: the worker sees them at its next run, without a restart.
    hour = datetime.now(timezone.utc).hour
    commands = [("sources", "add", feed.url(FEED_PATH), "--name", "cs-ai", "--kind", "arxiv"),
                ("subscribers", "add", "ana@example.org", "--interests", "language model", "--hour", str(hour))]
    adding = [subprocess.Popen([sys.executable, "-m", "bot", *c], env=proc_env, cwd=REPO, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True) for c in commands]
    for command in adding:
        _, err = command.communicate(timeout=60)
        assert command.returncode == 0, err

    wait_until(lambda: len(sink.received) >= 1, 30, "the digest")
    [message] = sink.messages_to("ana@example.org")
    assert "language model" in message["Subject"]
    health = httpx.get(f"http://127.0.0.1:{proc_env['PORT']}/healthz", timeout=5)
    assert health.status_code == 200 and health.json() == {"healthy": True, "status": "ok"}  # public: status only

    code, seconds = run.terminate()
    assert code == 0, run.log()
    assert seconds < 8  # "within a few seconds": the grace is 5 s; slack for a busy machine
    log = run.log()
    for event in ("poll source=cs-ai status=ok new=86", "match papers=86", "plan outbox=1 to=ana@example.org",
                  "send outbox=1 to=ana@example.org kind=digest", "result=sent", "worker.stop clean=True"):
        assert event in log, log

    restarted_at = datetime.now(timezone.utc)
    again = Process(proc_env, tmp_path / "run2.log", "run")
    try:
        # A full round of every job after the restart (plan finds ana due, and her digest already queued).
        wait_until(lambda: jobs_finished_since(proc_env, restarted_at), 20, "a full round of jobs")
        assert len(sink.received) == 1
        code, _ = again.terminate()
        assert code == 0, again.log()
    finally:
        again.kill()


def add_people(env: dict[str, str], feed: FeedServer, count: int) -> list[str]:
    """A source and `count` subscribers due now, written straight into the store (setup, not the subject)."""
    hour = datetime.now(timezone.utc).hour
    now = datetime.now(timezone.utc)
    db = database(env)
    emails = [f"reader{n}@example.org" for n in range(count)]
    try:
        with db.session() as session:
            sources.add_source(session, "cs-ai", feed.url(FEED_PATH), "arxiv", now)
            for email in emails:
                subscribers.save_subscriber(session, SubscriberInput(email, ("language model",), hour=hour),
                                            "active", now)
    finally:
        db.dispose()
    return emails


def test_a_worker_killed_while_sending_finishes_after_restart_with_at_most_one_copy_twice(proc_env, feed, sink,
                                                                                         tmp_path):
    # One SMTP connection: one message in flight, so the window is exactly one copy (with N, up to N).
    proc_env["PAPERPOST_SMTP_CONNECTIONS"] = "1"
    emails = add_people(proc_env, feed, 6)
    worker = Process(proc_env, tmp_path / "worker1.log", "worker", "--log-format", "json")

    def kill_mid_sending(count: int) -> None:
        # The server has message 2 but the worker dies before it hears "250": the documented window.
        if count == 2:
            os.kill(worker.pid, signal.SIGKILL)

    sink.handler.on_message = kill_mid_sending
    try:
        worker.popen.wait(30)
    finally:
        worker.kill()
    sink.handler.on_message = None
    assert worker.popen.returncode == -signal.SIGKILL
    db = database(proc_env)
    with db.session() as session:
        states = Counter(item.state for item in outbox.list_outbox(session))
    db.dispose()
    assert states["sent"] == 1 and states["sending"] >= 1  # mid-run: one recorded, the rest claimed or queued

    started = time.monotonic()
    again = Process(proc_env, tmp_path / "worker2.log", "worker", "--log-format", "json")
    try:
        wait_until(lambda: all(sink.messages_to(e) for e in emails), 20, "every digest")
        took = time.monotonic() - started
        time.sleep(2.5)  # more rounds of every job: nothing else may arrive
        per_person = Counter(r.recipients[0] for r in sink.received)
        assert set(per_person) == set(emails)
        assert sorted(per_person.values()) == [1] * (len(emails) - 1) + [2]  # only the one in flight, once more
        assert took < 15  # taken back at start, not after the 5-minute lease
        events = [json.loads(line) for line in again.log().splitlines() if line.startswith("{")]
        recovered = [e for e in events if e["event"] == "send.recover"]
        assert sorted(e["to"] for e in recovered) == emails[1:]  # the one in flight and those claimed with it
        code, _ = again.terminate()
        assert code == 0
    finally:
        again.kill()
    db = database(proc_env)
    with db.session() as session:
        assert {item.state for item in outbox.list_outbox(session)} == {"sent"}
    db.dispose()


def test_a_second_worker_on_the_same_database_refuses_to_start(proc_env, tmp_path):
    first = Process(proc_env, tmp_path / "first.log", "worker")
    try:
        first.wait_for_log("worker.start")
        second = cli(proc_env, "worker")
        assert second.returncode == 1
        assert f"Another paperpost worker (pid {first.pid}) is already running" in second.stderr
        assert "worker.start" not in second.stderr
        first.popen.kill()  # even a worker that dies without cleaning up gives the lock back
        first.popen.wait(10)
        third = Process(proc_env, tmp_path / "third.log", "worker")
        try:
            third.wait_for_log("worker.start")
            code, _ = third.terminate()
            assert code == 0
        finally:
            third.kill()
    finally:
        first.kill()


def test_sigterm_while_sending_hands_back_the_unsent_mail_and_a_restart_sends_each_once(proc_env, feed, sink,
                                                                                         tmp_path):
    proc_env["PAPERPOST_SMTP_CONNECTIONS"] = "1"
    emails = add_people(proc_env, feed, 6)
    worker = Process(proc_env, tmp_path / "worker1.log", "worker")
    stopped_at: list[float] = []

    def stop_mid_sending(count: int) -> None:
        if count == 2:
            stopped_at.append(time.monotonic())
            os.kill(worker.pid, signal.SIGTERM)

    sink.handler.on_message = stop_mid_sending
    try:
        code = worker.popen.wait(30)
    finally:
        worker.kill()
    sink.handler.on_message = None
    assert code == 0, worker.log()
    assert time.monotonic() - stopped_at[0] < 8  # within a few seconds, with slack for a busy machine
    db = database(proc_env)
    with db.session() as session:
        rows = outbox.list_outbox(session)
    db.dispose()
    # The message in flight completed and was recorded; the rest went back to the queue, as if never claimed.
    assert Counter(r.state for r in rows) == {"sent": 2, "queued": 4}
    assert {r.attempts for r in rows if r.state == "queued"} == {0}
    assert "send.recover" not in worker.log()

    again = Process(proc_env, tmp_path / "worker2.log", "worker")
    try:
        wait_until(lambda: all(sink.messages_to(e) for e in emails), 20, "every digest")
        time.sleep(1.5)
        assert Counter(r.recipients[0] for r in sink.received) == Counter({e: 1 for e in emails})
        assert again.terminate()[0] == 0
    finally:
        again.kill()


def test_a_worker_waiting_on_a_hung_feed_still_stops_within_seconds(proc_env, feed, tmp_path):
    feed.route("/hangs", body=FEED, delay=25)  # answers after 25 s; the fetch timeout is 30 s
    db = database(proc_env)
    with db.session() as session:
        sources.add_source(session, "slow", feed.url("/hangs"), "arxiv", datetime.now(timezone.utc))
    db.dispose()
    worker = Process(proc_env, tmp_path / "worker.log", "worker")
    try:
        wait_until(lambda: feed.routes["/hangs"].requests, 20, "the poll to start")
        code, seconds = worker.terminate()
        assert code == 0 and seconds < 12  # 5 s grace, then the abandoned poll is cut; slack for a busy machine
        assert "worker.stop clean=False" in worker.log()  # the poll was abandoned, and said so
    finally:
        worker.kill()
    db = database(proc_env)
    with db.session() as session:
        [slow] = sources.list_sources(session)
    db.dispose()
    assert slow.last_polled is None  # nothing half-stored: the next start polls it again
