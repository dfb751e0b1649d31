"""Sign-up limits live in the database: two web processes (two Apps) on one database share one limit."""

from __future__ import annotations

import re
import threading
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from bot.app import App
from bot.config import load_config
from bot.store import limits, open_database
from bot.store.schema import OutboxRow, RateHitRow
from subscribers.ratelimit import RateLimiter, Rule
from subscribers.web.routes import Limits, create_app

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)


def two_sites(database_url: str, monkeypatch: pytest.MonkeyPatch, limits_: Limits) -> tuple[list[App], list[TestClient]]:
    """Two Apps, each with its own engine and pages, as two `paperpost web` processes would have."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    apps = [App(load_config(), clock=lambda: NOW) for _ in range(2)]
    clients = [TestClient(create_app(app, limits=limits_), base_url="http://localhost") for app in apps]
    return apps, clients


def sign_up(client: TestClient, address: str) -> int:
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', client.get("/").text).group(1)  # type: ignore[union-attr]
    return client.post("/subscribe", data={"email": address, "interests": "reward model", "frequency": "daily",
                                           "weekday": "0", "hour": "7", "tz": "UTC", "csrf": csrf}).status_code


def test_two_web_processes_share_the_per_mailbox_and_per_ip_limits(env, database_url, monkeypatch):
    apps, (one, two) = two_sites(database_url, monkeypatch,
                                 Limits(mails_per_mailbox=Rule(2, 900), signups_per_ip=Rule(7, 3600)))
    try:
        # One mailbox under four plus-tags, alternating between the two processes: two mails in all.
        assert [sign_up(c, f"ada+{n}@example.org") for n, c in enumerate((one, two, one, two))] == [200] * 4
        with apps[0].db.session() as session:
            mails = session.scalar(select(func.count()).select_from(OutboxRow).where(OutboxRow.kind == "confirm"))
        assert mails == 2
        # The IP limit counts across both processes too: 4 attempts above, 3 more, then no.
        assert [sign_up(c, f"p{n}@example.org") for n, c in enumerate((two, one, two, one))] == [200, 200, 200, 429]
        with apps[0].db.session() as session:
            keys = dict(session.execute(select(RateHitRow.key, RateHitRow.count)).all())
        assert keys["mailbox:ada@example.org"] == 4 and keys["signup:testclient"] == 8
    finally:
        for app in apps:
            app.close()


def test_hits_from_many_threads_on_two_engines_are_all_counted(database_url):
    databases = [open_database(database_url) for _ in range(2)]
    counts: list[int] = []
    lock = threading.Lock()

    def hammer(n: int) -> None:
        db = databases[n % 2]
        for _ in range(15):
            with db.session() as session:
                count = limits.hit(session, "signup:10.0.0.1", NOW, 3600)
            with lock:
                counts.append(count)

    threads = [threading.Thread(target=hammer, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        # Atomic increments: every hit saw a distinct count, none was lost.
        assert sorted(counts) == list(range(1, 91))
    finally:
        for db in databases:
            db.dispose()


def test_windows_are_fixed_aligned_and_old_ones_are_pruned(database_url):
    db = open_database(database_url)
    clock = [NOW + timedelta(minutes=59)]
    limiter = RateLimiter(db, clock=lambda: clock[0])
    rule = Rule(2, 3600)
    try:
        assert [limiter.allow("k", rule) for _ in range(3)] == [True, True, False]
        clock[0] = NOW + timedelta(minutes=61)  # the next hour's window: a fresh count
        assert limiter.allow("k", rule)
        assert limits.window_start(NOW + timedelta(minutes=61), 3600) == NOW + timedelta(hours=1)
        with db.session() as session:
            assert session.scalar(select(func.count()).select_from(RateHitRow)) == 2
        clock[0] = NOW + timedelta(hours=5)  # ten minutes since the last prune, and both windows long over
        assert limiter.allow("other", rule)
        with db.session() as session:
            assert session.execute(select(RateHitRow.key, RateHitRow.count)).all() == [("other", 1)]
        long_key = "address:" + "x" * 300 + "@example.org"
        assert limiter.allow(long_key, rule) and limiter.allow(long_key, rule) and not limiter.allow(long_key, rule)
        assert limiter.allow("address:" + "x" * 300 + "@example.net", rule)  # a different long key counts apart
    finally:
        db.dispose()
