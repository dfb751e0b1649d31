"""Wake-ups from other processes on PostgreSQL: LISTEN on `paperpost_outbox`, call the sender at once.

The outbox's queuing transaction runs `pg_notify('paperpost_outbox', channel)`
(bot.store.outbox), so mail queued by a separate `paperpost web` process (a
confirmation) goes out now, not at the sender's next tick. This thread holds a
connection of its own, waits for notifications a second at a time (so it stops
within a second), and reconnects when the connection drops; after each (re)connect
it wakes the sender once, for whatever was queued while it was not listening.
SQLite has no such thing; there one process (`paperpost run`) wakes its sender in-process.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import psycopg
from sqlalchemy.engine import make_url

from bot.jobs.locks import KEEPALIVES
from bot.logs import log_event

CHANNEL = "paperpost_outbox"
RECONNECT_AFTER = 2.0  # seconds between attempts while the database cannot be reached


def libpq_url(database_url: str) -> str:
    """`postgresql+psycopg://...` (SQLAlchemy) as the `postgresql://...` libpq understands."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


class OutboxListener:
    """A daemon thread that calls `on_notify()` for each NOTIFY on `paperpost_outbox`; `start()`, `stop()`."""

    def __init__(self, database_url: str, on_notify: Callable[[], None]):
        self._dsn = libpq_url(database_url)
        self._on_notify = on_notify
        self._stop = threading.Event()
        self.listening = threading.Event()  # set while LISTEN is in effect (tests and logs)
        self._thread = threading.Thread(target=self._loop, name="outbox-listener", daemon=True)

    def start(self) -> OutboxListener:
        self._thread.start()
        return self

    def stop(self, timeout: float = 3.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _loop(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                with psycopg.connect(self._dsn, autocommit=True, connect_timeout=5, **KEEPALIVES) as connection:
                    connection.execute(f"LISTEN {CHANNEL}")
                    self.listening.set()
                    log_event("wake.listening", channel=CHANNEL, reconnected=failures > 0)
                    failures = 0
                    self._wake()  # whatever was queued while nobody listened
                    while not self._stop.is_set():
                        # Notifications that arrive together wake the sender once: it drains them all in one pass.
                        if any(True for _ in connection.notifies(timeout=1.0, stop_after=1)):
                            self._wake()
            except psycopg.Error as exc:
                self.listening.clear()
                failures += 1
                if failures == 1 or failures % 30 == 0:  # say it once, then now and again, not every 2 s
                    log_event("wake.disconnected", level=logging.WARNING, error=f"{exc.__class__.__name__}: {exc}",
                              retry_in=RECONNECT_AFTER, note="mail still goes out at each send interval meanwhile")
                self._stop.wait(RECONNECT_AFTER)
        self.listening.clear()

    def _wake(self) -> None:
        try:
            self._on_notify()
        except Exception as exc:  # noqa: BLE001 - a failed wake must not end the listener; the schedule still runs
            log_event("wake.error", level=logging.WARNING, error=f"{exc.__class__.__name__}: {exc}")
