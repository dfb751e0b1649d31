"""The worker's parts in-process: the planner lock, the heartbeat behind /healthz, the log lines."""

from __future__ import annotations

import io
import json
import logging
import os
from datetime import datetime, timedelta, timezone

import pytest

from bot.errors import WorkerLockHeld
from bot.jobs.health import health_report
from bot.jobs.locks import FileLock, planner_lock
from bot.logs import log_event, setup_logging
from bot.store import heartbeats, open_database

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)


def test_the_lock_refuses_a_second_holder_names_the_first_and_frees_on_release(tmp_path):
    path = tmp_path / "paperpost.db.worker.lock"
    first, second = FileLock(path), FileLock(path)
    first.acquire()
    with pytest.raises(WorkerLockHeld, match=f"pid {os.getpid()}"):
        second.acquire()
    first.release()
    second.acquire()  # free again once the holder lets go
    second.release()


def test_the_lock_lives_next_to_an_sqlite_database_else_in_the_data_dir(tmp_path):
    beside = planner_lock(f"sqlite:///{tmp_path / 'db' / 'paperpost.db'}", tmp_path / "data")
    assert beside.where == f"lock file {tmp_path / 'db' / 'paperpost.db.worker.lock'}"
    in_memory = planner_lock("sqlite://", tmp_path / "data")
    assert in_memory.where == f"lock file {tmp_path / 'data' / 'worker.lock'}"


def test_one_worker_per_database_on_both_backends(database_url, tmp_path):
    first = planner_lock(database_url, tmp_path / "data")
    second = planner_lock(database_url, tmp_path / "data")
    first.acquire()
    try:
        with pytest.raises(WorkerLockHeld, match="Another paperpost worker"):
            second.acquire()
    finally:
        first.release()
    second.acquire()
    second.release()


@pytest.fixture
def db(tmp_path):
    database = open_database(f"sqlite:///{tmp_path / 'p.db'}")
    yield database
    database.dispose()


def beat(db, job: str, interval: int, started: datetime, finished: datetime | None) -> None:
    with db.session() as session:
        heartbeats.job_started(session, job, interval, started, pid=42, host="box")
        if finished is not None:
            heartbeats.job_finished(session, job, finished)


def test_health_is_ok_before_any_worker_ran_and_while_its_jobs_keep_running(db):
    healthy, details = health_report(db, NOW)
    assert healthy and details["worker"] == {"state": "never ran"}
    beat(db, "plan", 300, NOW - timedelta(minutes=4), NOW - timedelta(minutes=4))
    beat(db, "poll", 60, NOW - timedelta(seconds=5), None)  # running now, started a moment ago
    healthy, details = health_report(db, NOW)
    assert healthy and details["worker"]["state"] == "ok"
    assert details["worker"]["jobs"]["poll"]["running"] is True


def test_health_is_503_material_when_a_job_hangs_or_the_worker_is_gone(db):
    beat(db, "send", 60, NOW - timedelta(minutes=11), None)  # started 11 minutes ago, never finished
    beat(db, "plan", 300, NOW - timedelta(minutes=2), NOW - timedelta(minutes=2))
    healthy, details = health_report(db, NOW)
    assert not healthy and details["worker"]["state"] == "stuck: send"
    # The plan job's own limit is 3 intervals (15 minutes): an hour of silence means no worker.
    healthy, details = health_report(db, NOW + timedelta(hours=1))
    assert not healthy and details["worker"]["state"] == "stuck: plan, send"
    assert details["database"] == "ok"


def test_a_failed_job_is_recorded_with_its_error(db):
    beat(db, "poll", 60, NOW, None)
    with db.session() as session:
        heartbeats.job_finished(session, "poll", NOW + timedelta(seconds=1), "OperationalError: disk full")
    _, details = health_report(db, NOW + timedelta(seconds=2))
    assert details["worker"]["jobs"]["poll"]["last_error"] == "OperationalError: disk full"


@pytest.fixture
def restore_logging():
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_text_log_lines_are_one_event_with_key_values_quoted_where_needed(restore_logging):
    stream = io.StringIO()
    setup_logging("text", stream=stream)
    log_event("poll", source="arxiv-cs-cl", status="failed", new=0, error="HTTP 503 from the server", skipped=None)
    [line] = stream.getvalue().splitlines()
    assert line.endswith('poll source=arxiv-cs-cl status=failed new=0 error="HTTP 503 from the server"')
    assert "skipped" not in line


def test_json_log_lines_parse_and_carry_the_fields(restore_logging):
    stream = io.StringIO()
    setup_logging("json", stream=stream)
    log_event("send", level=logging.WARNING, outbox=7, to="ana@example.org", result="failed")
    logging.getLogger("apscheduler.scheduler").warning("skipped: maximum number of running instances reached")
    [line] = stream.getvalue().splitlines()  # the library's routine warning is not an event
    record = json.loads(line)
    assert {k: record[k] for k in ("level", "event", "outbox", "to", "result")} == {
        "level": "warning", "event": "send", "outbox": 7, "to": "ana@example.org", "result": "failed"}
    with pytest.raises(ValueError):
        setup_logging("yaml")
