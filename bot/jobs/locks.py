"""The planner lock: at most one worker polls and plans on a database at a time.

Two planners would each poll and plan; the outbox key keeps a digest planned
once, but two pollers are waste and risk. So the worker that polls and plans holds
this lock for as long as it does.

- SQLite (one machine): an exclusive `flock` on `<database file>.worker.lock`,
  next to the database. The kernel drops it when the process ends, however it
  ends (even SIGKILL), so a crash never leaves a stale lock to clean up.
- PostgreSQL (several machines): the same `PlannerLock` protocol held by
  `pg_try_advisory_lock(key)` on a connection kept open for the worker's life;
  the server drops it when that connection ends. A second worker waits as a
  standby (bot.jobs.watch retries `acquire()`), sending meanwhile; `held()` checks
  that connection is alive, so a planner whose connection died stops planning.
  TCP keepalives on it notice a half-open link in about 30 s.
`planner_lock()` is the one place that chooses.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import Protocol

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from bot.errors import ConfigError, WorkerLockHeld

ADVISORY_KEY = 0x7061706572706F73  # "paperpos": one key per database (PostgreSQL scopes advisory locks so)
# TCP keepalives on the connections that hold a lock, both ends: the client notices a dead link, and the
# server drops a vanished client's session (and its locks) within about 25 s, not the kernel's two hours.
KEEPALIVES = {"keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5, "keepalives_count": 3,
              "options": "-c tcp_keepalives_idle=10 -c tcp_keepalives_interval=5 -c tcp_keepalives_count=3"}


class PlannerLock(Protocol):
    """What the worker needs from a lock: take it (or raise WorkerLockHeld), give it back."""

    where: str  # shown to operators: what the lock is and where it lives

    def acquire(self) -> None: ...

    def held(self) -> bool: ...  # still ours? (False once the connection that holds it died)

    def release(self) -> None: ...


class FileLock:
    """An exclusive, non-blocking OS file lock (flock); the file keeps the holder's pid for the message."""

    def __init__(self, path: Path):
        self.path = path
        self.where = f"lock file {path}"
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock, or raise WorkerLockHeld naming the process that holds it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise WorkerLockHeld(
                f"Another paperpost worker (pid {holder}) is already running on this database ({self.where}); "
                "stop it first: two workers on one SQLite database would poll and send twice.") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def held(self) -> bool:
        return self._fd is not None  # a flock cannot be lost while the process lives

    def release(self) -> None:
        """Give the lock back; the file stays (deleting it would race with the next worker taking it)."""
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> FileLock:
        self.acquire()
        return self

    def __exit__(self, *_: object) -> None:
        self.release()


class AdvisoryLock:
    """A PostgreSQL session advisory lock, held on its own connection until `release()` or the process ends."""

    def __init__(self, database_url: str):
        self.url = database_url
        self.where = f"PostgreSQL advisory lock {ADVISORY_KEY} on {make_url(database_url).render_as_string()}"
        self._connection: Connection | None = None
        self._engine: Engine | None = None

    def acquire(self) -> None:
        """Take the lock, or raise WorkerLockHeld naming the server process of the holder."""
        engine = create_engine(self.url, poolclass=NullPool, connect_args=KEEPALIVES)
        try:
            connection = engine.connect()
            got = connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": ADVISORY_KEY}).scalar()
            holder = None if got else connection.execute(text(
                "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1"
                " AND classid = :high AND objid = :low AND database = (SELECT oid FROM pg_database"
                " WHERE datname = current_database())"),
                {"high": ADVISORY_KEY >> 32, "low": ADVISORY_KEY & 0xFFFFFFFF}).scalar()
            connection.commit()  # a session lock outlives the transaction: end it, keep the connection
        except SQLAlchemyError as exc:
            raise ConfigError(f"Cannot reach the database to take the worker lock ({exc.__class__.__name__}); "
                              "check DATABASE_URL.") from exc
        if not got:
            connection.close()
            engine.dispose()
            raise WorkerLockHeld(
                f"Another paperpost worker is already the planner on this database ({self.where}, held by server "
                f"process {holder}); this one waits as a standby.")
        self._connection, self._engine = connection, engine

    def held(self) -> bool:
        """True while the connection holding the lock answers and the server still shows the lock granted to it."""
        if self._connection is None:
            return False
        try:
            mine = self._connection.execute(text(
                "SELECT count(*) FROM pg_locks WHERE pid = pg_backend_pid() AND locktype = 'advisory' AND granted"
                " AND objsubid = 1 AND classid::bigint = :high AND objid::bigint = :low"),
                {"high": ADVISORY_KEY >> 32, "low": ADVISORY_KEY & 0xFFFFFFFF}).scalar()
            self._connection.commit()
        except SQLAlchemyError:
            return False
        return bool(mine)

    def release(self) -> None:
        if self._connection is not None:
            try:
                self._connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_KEY})
                self._connection.commit()
            except SQLAlchemyError:
                pass  # the connection is gone, and the lock with it
            finally:
                self._connection.close()  # closing alone would free it too; unlock says so explicitly
                self._connection = None
                if self._engine is not None:
                    self._engine.dispose()


def planner_lock(database_url: str, data_dir: Path) -> PlannerLock:
    """The lock that guards `database_url`: a file next to an SQLite database, an advisory lock on
    PostgreSQL, else (another SQLite flavour) a file in the data dir."""
    url = make_url(database_url)
    if url.get_backend_name() == "postgresql":
        return AdvisoryLock(database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return FileLock(Path(url.database).resolve().with_name(Path(url.database).name + ".worker.lock"))
    return FileLock(data_dir / "worker.lock")
