"""Worker roles as real processes on the machine's PostgreSQL: one planner, a standby that takes over, --jobs."""

from __future__ import annotations

import signal
import time
from datetime import datetime, timezone

import pytest

from bot.models import SubscriberInput
from bot.store import open_database, sources, subscribers, workers
from test_worker_process import FEED_PATH, Process, cli, feed, proc_env, sink, wait_until  # noqa: F401 - fixtures

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_env(proc_env, database_url):  # type: ignore[no-untyped-def]
    proc_env.update(DATABASE_URL=database_url, PAPERPOST_SEND_INTERVAL="1")
    return proc_env


def registered_roles(url: str) -> dict[int, tuple[tuple[str, ...], bool]]:
    """pid -> (roles, stopped) of every registered worker."""
    db = open_database(url)
    try:
        with db.session() as session:
            return {w.pid: (w.roles, w.stopped_at is not None) for w in workers.list_workers(session)}
    finally:
        db.dispose()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_two_workers_started_together_one_plans_the_other_stands_by_and_takes_over_when_it_dies(
        pg_env, database_url, feed, sink, tmp_path):
    db = open_database(database_url)
    with db.session() as session:
        sources.add_source(session, "cs-ai", feed.url(FEED_PATH), "arxiv", datetime.now(timezone.utc))
    db.dispose()
    pair = [Process(pg_env, tmp_path / f"worker{n}.log", "worker") for n in (1, 2)]
    try:
        for worker in pair:
            worker.wait_for_log("worker.start")
        wait_until(lambda: sum("worker.planner " in w.log() for w in pair) == 1
                   and sum("worker.standby " in w.log() for w in pair) == 1, 10, "one planner and one standby")
        [planner] = [w for w in pair if "worker.planner " in w.log()]
        [standby] = [w for w in pair if w is not planner]
        assert registered_roles(database_url) == {planner.pid: (("poll", "plan", "send"), False),
                                                  standby.pid: (("send", "standby"), False)}
        wait_until(lambda: "poll source=cs-ai status=ok" in planner.log(), 20, "the planner's first poll")
        time.sleep(3)  # several rounds of the standby's watch: it still only stands by
        assert "poll source=cs-ai" not in standby.log() and "worker.planner " not in standby.log()

        planner.popen.send_signal(signal.SIGKILL)
        planner.popen.wait(10)
        killed_at = time.monotonic()
        # Due after the kill: only the survivor can match, plan and send it.
        hour = datetime.now(timezone.utc).hour
        db = open_database(database_url)
        with db.session() as session:
            subscribers.save_subscriber(session, SubscriberInput("bea@example.org", ("language model",), hour=hour),
                                        "active", datetime.now(timezone.utc))
        db.dispose()
        wait_until(lambda: sink.messages_to("bea@example.org"), 60, "the survivor to plan and send bea's digest")
        took = time.monotonic() - killed_at
        assert took < 60, took  # the bound: the planner role is taken within a minute
        log = standby.log()
        assert log.index("worker.standby ") < log.index("worker.planner ")
        assert "plan outbox=" in log and "to=bea@example.org" in log
        roles = registered_roles(database_url)
        assert roles[standby.pid] == (("poll", "plan", "send"), False)
        assert roles[planner.pid][1] is True  # found dead (its lock was free) and marked stopped
        code, _ = standby.terminate()
        assert code == 0, standby.log()
        assert registered_roles(database_url)[standby.pid][1] is True  # a clean stop unregisters
    finally:
        for worker in pair:
            worker.kill()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_send_only_worker_never_plans_even_when_no_one_else_does(pg_env, database_url, feed, tmp_path):
    db = open_database(database_url)
    with db.session() as session:
        sources.add_source(session, "cs-ai", feed.url(FEED_PATH), "arxiv", datetime.now(timezone.utc))
    db.dispose()
    sender = Process(pg_env, tmp_path / "sender.log", "worker", "--jobs", "send")
    try:
        sender.wait_for_log("worker.start")
        time.sleep(4)  # two rounds of its watch, and a send pass or more
        assert registered_roles(database_url) == {sender.pid: (("send",), False)}
        log = sender.log()
        assert "worker.planner" not in log and "worker.standby" not in log and "poll source" not in log
        assert not feed.routes[FEED_PATH].requests
        assert sender.terminate()[0] == 0
    finally:
        sender.kill()


def test_jobs_must_name_known_jobs(proc_env):
    result = cli(proc_env, "worker", "--jobs", "send,mail")
    assert result.returncode == 1
    assert "unknown job 'mail'; give one or more of poll, plan, send" in result.stderr
    assert "no job given" in cli(proc_env, "worker", "--jobs", ",").stderr


def lock_backends(url: str, where: str) -> list[int]:
    from sqlalchemy import create_engine, text

    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            pids = list(connection.execute(text(
                f"SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND {where} AND database ="
                " (SELECT oid FROM pg_database WHERE datname = current_database())"))
                        .scalars())
            for pid in pids:
                connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            return pids
    finally:
        engine.dispose()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_planner_whose_lock_connection_dies_stops_planning_then_a_worker_whose_liveness_dies_exits(
        pg_env, database_url, tmp_path):
    from bot.jobs.liveness import NAMESPACE

    worker = Process(pg_env, tmp_path / "worker.log", "worker")
    try:
        worker.wait_for_log("worker.planner ")
        assert lock_backends(database_url, "objsubid = 1")  # the planner lock's connection, cut by the server
        worker.wait_for_log("worker.planner_lost", timeout=10)
        # No one else holds it now: as a standby, the same worker takes it again.
        wait_until(lambda: worker.log().count("worker.planner ") == 2, 15, "the planner role taken again")
        assert worker.log().index("worker.planner_lost") < worker.log().rindex("worker.standby ")
        assert registered_roles(database_url)[worker.pid] == (("poll", "plan", "send"), False)

        assert lock_backends(database_url, f"objsubid = 2 AND classid::bigint = {NAMESPACE}")
        code = worker.popen.wait(15)
        assert code == 1, worker.log()
        assert "worker.lost" in worker.log()
        assert "lost its connection to the database's liveness lock" in worker.log()
    finally:
        worker.kill()
