"""Worker registration and liveness in-process: the row, the lock test, a lost lock connection, the wake listener."""

from __future__ import annotations

import subprocess
import sys
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from bot.config import load_config
from bot.jobs.health import health_report
from bot.jobs.liveness import NAMESPACE, alive_among, registered
from bot.jobs.locks import ADVISORY_KEY, AdvisoryLock
from bot.store import open_database, workers

REPO = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)
HOLDER = """
import sys
from datetime import datetime, timezone
from bot.config import load_config
from bot.jobs.liveness import registered
from bot.store import open_database
db = open_database(sys.argv[1])
with registered(db, load_config(), ["send"], lambda: datetime.now(timezone.utc)) as me:
    print(me.id, flush=True)
    sys.stdin.read()  # until the test closes our stdin (or kills us)
"""


@pytest.fixture
def db(env, database_url, monkeypatch):  # type: ignore[no-untyped-def]
    env["DATABASE_URL"] = database_url
    monkeypatch.setenv("DATABASE_URL", database_url)
    database = open_database(database_url)
    yield database
    database.dispose()


def clock() -> datetime:
    return NOW


def start_holder(url: str, env: dict[str, str]) -> tuple[subprocess.Popen[str], int]:
    """Another process registered as a worker; (its process, its worker id)."""
    import os

    proc = subprocess.Popen([sys.executable, "-c", HOLDER, url], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, cwd=REPO, env={**os.environ, **env, "PYTHONPATH": str(REPO)})
    line = proc.stdout.readline()  # type: ignore[union-attr]
    assert line.strip().isdigit(), proc.communicate(timeout=10)
    return proc, int(line)


def test_a_worker_is_alive_while_its_process_lives_and_dead_at_once_after_sigkill(db, env, database_url):
    config = load_config()
    other, other_id = start_holder(database_url, env)
    try:
        with registered(db, config, ["poll", "plan", "send"], clock) as me:
            with db.session() as session:
                mine = workers.get_worker(session, me.id)
            assert mine is not None and mine.roles == ("poll", "plan", "send") and mine.pid > 0
            assert mine.started_at == NOW and mine.stopped_at is None
            assert me.dead_owners() == [] and alive_among(db, [me.id, other_id]) == {me.id, other_id}
            other.kill()
            other.wait(10)
            assert me.dead_owners() == [other_id]  # a lock test: no heartbeat age, no lease to wait for
            with db.session() as session:
                assert workers.get_worker(session, other_id).stopped_at == NOW  # type: ignore[union-attr]
                assert [w.id for w in workers.live_workers(session)] == [me.id]
            assert me.dead_owners() == [other_id]  # still named: its rows may not all be taken back yet
            assert me.reap() == []  # but reported dead only once
            me.set_roles(["send", "standby"])
            me.beat()
            healthy, details = health_report(db, NOW)
            assert details["workers"] == [{"id": me.id, "host": mine.host, "pid": mine.pid,
                                           "roles": ["send", "standby"], "alive": True, "planner": False,
                                           "started_at": NOW.isoformat(), "heartbeat_at": NOW.isoformat()}]
        with db.session() as session:
            assert workers.get_worker(session, me.id).stopped_at == NOW  # type: ignore[union-attr]
        assert alive_among(db, [me.id]) == set()
    finally:
        other.kill()
        other.wait(10)


def test_a_worker_stopped_an_hour_ago_is_no_longer_named(db, env):
    later = [NOW]
    with registered(db, load_config(), ["send"], lambda: later[0]) as me:
        with db.session() as session:
            gone = workers.register(session, "box", 1, ["send"], NOW)
            workers.mark_stopped(session, [gone], NOW)
        assert me.dead_owners() == [gone]
        later[0] = NOW + timedelta(hours=1, seconds=1)
        assert me.dead_owners() == []


def test_a_clean_exit_of_another_process_unregisters_it(db, env, database_url):
    other, other_id = start_holder(database_url, env)
    other.communicate("", timeout=20)  # stdin closed: it leaves its `registered` block
    assert other.returncode == 0
    with db.session() as session:
        assert workers.get_worker(session, other_id).stopped_at is not None  # type: ignore[union-attr]
    assert alive_among(db, [other_id]) == set()


def backend_pids(url: str, where: str) -> list[int]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return list(connection.execute(text(f"SELECT pid FROM pg_locks WHERE {where} AND database ="
                                                       " (SELECT oid FROM pg_database WHERE datname = current_database())")).scalars())
    finally:
        engine.dispose()


def terminate(url: str, pids: list[int]) -> None:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            for pid in pids:
                connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    finally:
        engine.dispose()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_worker_whose_lock_connection_dies_knows_it_is_lost(db, env, database_url):
    with registered(db, load_config(), ["send"], clock) as me:
        assert me.alive() and not me.lost.is_set()
        pids = backend_pids(database_url, f"locktype = 'advisory' AND objsubid = 2 AND classid::bigint = {NAMESPACE}"
                                          f" AND objid::bigint = {me.id}")
        assert len(pids) == 1
        terminate(database_url, pids)
        assert not me.alive() and me.lost.is_set()  # others may take its rows now: it must stop claiming
        assert not me.alive()  # for good, even if the server came back


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_the_planner_lock_says_when_its_connection_died(database_url):
    lock = AdvisoryLock(database_url)
    lock.acquire()
    assert lock.held()
    terminate(database_url, backend_pids(database_url, f"locktype = 'advisory' AND objsubid = 1 AND "
                                                        f"objid::bigint = {ADVISORY_KEY & 0xFFFFFFFF}"))
    assert not lock.held()
    lock.release()  # harmless on a dead connection
    again = AdvisoryLock(database_url)
    again.acquire()  # the server dropped it with the connection
    again.release()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_the_listener_wakes_on_notify_and_reconnects_after_its_connection_drops(database_url):
    from bot.jobs.wake import OutboxListener

    woken = threading.Semaphore(0)
    listener = OutboxListener(database_url, woken.release).start()
    try:
        assert listener.listening.wait(10)
        assert woken.acquire(timeout=5)  # once after connecting: whatever was queued meanwhile
        engine = create_engine(database_url, isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_notify('paperpost_outbox', 'email')"))
            assert woken.acquire(timeout=1.5)  # "within a second", with slack
            [pid] = connection.execute(text("SELECT pid FROM pg_stat_activity WHERE query LIKE 'LISTEN%'"
                                            " AND datname = current_database()")).scalars().all()
            connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            assert woken.acquire(timeout=10)  # reconnected, and woke once for what it may have missed
            assert listener.listening.is_set()
            connection.execute(text("SELECT pg_notify('paperpost_outbox', 'email')"))
            assert woken.acquire(timeout=1.5)
        engine.dispose()
    finally:
        listener.stop()
    assert not listener.listening.is_set()
