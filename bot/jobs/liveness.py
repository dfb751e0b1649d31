"""Worker registration and liveness: a row in `workers` plus a lock held for the process's life.

"Is worker N alive?" is a lock test, never a guess from its heartbeat's age:

- PostgreSQL: worker N holds the session advisory lock `(NAMESPACE, N)` (two-int
  form) on a connection of its own, kept open for its life. The server drops the
  lock when that connection ends, however the process ends (SIGKILL included). N is
  alive while `pg_locks` shows that lock granted.
- SQLite (one machine): worker N holds an exclusive `flock` on
  `<database file>.workers/<N>.lock`. The kernel drops it when the process ends.
  N is alive while the file cannot be locked by someone else.

The lock is taken before the registration commits, so no one ever sees a registered
worker whose lock is not held yet. If the lock connection dies while the process
runs, the lock is gone and others will (rightly) take its rows back: `alive()` tests
it, `lost` is then set for good and the worker must stop claiming (the worker process
stops and exits non-zero, so its supervisor starts a fresh one with a new id).
"""

from __future__ import annotations

import fcntl
import logging
import os
import socket
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

from sqlalchemy import Connection, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from bot.config import Config
from bot.errors import ConfigError
from bot.jobs.locks import KEEPALIVES
from bot.logs import log_event
from bot.store import Database, workers

NAMESPACE = 0x70707772  # "ppwr": first key of the two-int advisory locks (NAMESPACE, worker id)

# A worker stopped this recently still counts among the dead owners: its rows are taken back even when
# another worker (or its own unclean exit) marked it stopped before this one looked. Past that, the lease has run out.
RECENTLY_STOPPED = timedelta(hours=1)



class LivenessLocks(Protocol):
    """How one backend holds a worker's lock and tests others'."""

    def hold(self, worker_id: int) -> None: ...  # take worker_id's lock for this process (or raise)

    def held(self) -> bool: ...  # is our lock still ours?

    def free_of(self, worker_ids: Sequence[int]) -> list[int]: ...  # those of worker_ids whose lock nobody holds

    def release(self) -> None: ...


# The ids whose liveness lock someone holds now, in this database (one query for any number of workers).
_HELD_LOCKS = text("SELECT objid::bigint FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 2"
                   " AND classid::bigint = :ns AND database = (SELECT oid FROM pg_database"
                   " WHERE datname = current_database())")


class AdvisoryLocks:
    """Session advisory locks `(NAMESPACE, id)` on a connection of our own."""

    def __init__(self, database_url: str):
        self._engine = create_engine(database_url, poolclass=NullPool, connect_args=KEEPALIVES)
        self._connection: Connection | None = None
        self._id: int | None = None
        self._guard = threading.Lock()  # one connection, used from the worker's threads

    def hold(self, worker_id: int) -> None:
        with self._guard:
            try:
                self._connection = self._engine.connect()
                got = self._connection.execute(text(
                    "SELECT pg_try_advisory_lock(CAST(:ns AS integer), CAST(:id AS integer))"),
                    {"ns": NAMESPACE, "id": worker_id}).scalar()
                self._connection.commit()  # a session lock outlives the transaction: end it, keep the connection
            except SQLAlchemyError as exc:
                raise ConfigError(f"Cannot take the worker liveness lock ({exc.__class__.__name__}: {exc}); "
                                  "check DATABASE_URL and that the database accepts connections.") from exc
            if not got:
                self._connection.close()
                self._connection = None
                raise ConfigError(f"The liveness lock of worker {worker_id} is held by another connection, though "
                                  "that id was just registered; check that no other tool uses advisory locks "
                                  f"with key {NAMESPACE}.")
            self._id = worker_id

    def held(self) -> bool:
        with self._guard:
            if self._connection is None or self._id is None:
                return False
            try:
                mine = self._connection.execute(text(
                    "SELECT count(*) FROM pg_locks WHERE pid = pg_backend_pid() AND locktype = 'advisory'"
                    " AND granted AND objsubid = 2 AND classid::bigint = :ns AND objid::bigint = :id"),
                    {"ns": NAMESPACE, "id": self._id}).scalar()
                self._connection.commit()
            except SQLAlchemyError:
                return False
            return bool(mine)

    def free_of(self, worker_ids: Sequence[int]) -> list[int]:
        if not worker_ids:
            return []
        with self._guard:
            if self._connection is None:
                raise ConfigError("The liveness lock connection is closed; this worker cannot judge others.")
            rows = self._connection.execute(_HELD_LOCKS, {"ns": NAMESPACE}).scalars().all()
            self._connection.commit()
        alive = set(rows)
        return [i for i in worker_ids if i not in alive]

    def release(self) -> None:
        with self._guard:
            if self._connection is not None:
                try:
                    self._connection.execute(text("SELECT pg_advisory_unlock(CAST(:ns AS integer), "
                                                  "CAST(:id AS integer))"), {"ns": NAMESPACE, "id": self._id})
                    self._connection.commit()
                except SQLAlchemyError:
                    pass  # the connection is gone, and the lock with it
                finally:
                    self._connection.close()
                    self._connection = None
            self._engine.dispose()


class FileLocks:
    """One flock'ed file per worker id in `folder`."""

    def __init__(self, folder: Path):
        self.folder = folder
        self._fd: int | None = None

    def _path(self, worker_id: int) -> Path:
        return self.folder / f"{worker_id}.lock"

    def hold(self, worker_id: int) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._path(worker_id), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise ConfigError(f"The liveness lock {self._path(worker_id)} is held by another process, though "
                              f"worker id {worker_id} was just registered; check that nothing copies lock files.") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def held(self) -> bool:
        return self._fd is not None  # a flock cannot be lost while the process lives

    def free_of(self, worker_ids: Sequence[int]) -> list[int]:
        free = []
        for worker_id in worker_ids:
            try:
                fd = os.open(self._path(worker_id), os.O_RDWR)
            except FileNotFoundError:
                free.append(worker_id)  # never locked here (or its folder was cleaned): no one holds it
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # held: alive
            else:
                fcntl.flock(fd, fcntl.LOCK_UN)
                free.append(worker_id)
            finally:
                os.close(fd)
        return free

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def liveness_locks(database_url: str, data_dir: Path) -> LivenessLocks:
    """Advisory locks on PostgreSQL; else lock files next to the SQLite database (or in the data dir)."""
    url = make_url(database_url)
    if url.get_backend_name() == "postgresql":
        return AdvisoryLocks(database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        path = Path(url.database).resolve()
        return FileLocks(path.with_name(path.name + ".workers"))
    return FileLocks(data_dir / "workers")


def alive_among(db: Database, worker_ids: Sequence[int], data_dir: Path | None = None) -> set[int]:
    """Those of `worker_ids` whose liveness lock is held now (a lock test, for /healthz and the like)."""
    if not worker_ids:
        return set()
    if db.is_sqlite:
        locks = liveness_locks(db.url, data_dir or Path("."))
        return set(worker_ids) - set(locks.free_of(worker_ids))
    with db.session() as session:
        held = session.execute(_HELD_LOCKS, {"ns": NAMESPACE}).scalars().all()
    return set(worker_ids) & set(held)


class WorkerHandle:
    """This process as a registered worker: its id and roles, and the lock tests of the others (an Owner)."""

    def __init__(self, db: Database, locks: LivenessLocks, worker_id: int, roles: Sequence[str],
                 clock: Callable[[], datetime]):
        self.id = worker_id
        self.roles: tuple[str, ...] = tuple(roles)
        self._db, self._locks, self._clock = db, locks, clock
        self.lost = threading.Event()  # set once our lock is found gone: stop claiming

    def dead_owners(self) -> list[int]:
        """Ids of dead workers whose claims may be taken back: those registered and not stopped (not this one)
        whose liveness lock is free, marked stopped now, plus those stopped in the last RECENTLY_STOPPED
        (found dead by someone else a moment ago, or gone without handing everything back)."""
        self.reap()
        with self._db.session() as session:
            return workers.stopped_since(session, self._clock() - RECENTLY_STOPPED, exclude=self.id)

    def reap(self) -> list[int]:
        """Mark stopped the registered workers (not this one) whose liveness lock is free; the ids newly marked."""
        with self._db.session() as session:
            others = [w.id for w in workers.live_workers(session) if w.id != self.id]
        dead = self._locks.free_of(others)
        if not dead:
            return []
        with self._db.session() as session:
            newly = workers.mark_stopped(session, dead, self._clock())
        for worker_id in newly:
            log_event("worker.dead", level=logging.WARNING, worker=worker_id, by=self.id,
                      note="its liveness lock is free: the process is gone; its claimed rows are taken back")
        return newly

    def alive(self) -> bool:
        """Is our own liveness lock still held? False (and `lost` set, for good) once the lock is gone."""
        if self.lost.is_set():
            return False
        if self._locks.held():
            return True
        self.lost.set()
        log_event("worker.lost", level=logging.ERROR, worker=self.id,
                  note="the liveness lock's connection to the database is gone; other workers take this "
                       "worker's rows back, so it stops claiming and exits")
        return False

    def beat(self) -> None:
        """Record heartbeat_at = now."""
        with self._db.session() as session:
            workers.beat(session, self.id, self._clock())

    def set_roles(self, roles: Sequence[str]) -> None:
        """Record the roles this worker has now (shown by /healthz and `paperpost stats`)."""
        self.roles = tuple(roles)
        with self._db.session() as session:
            workers.set_roles(session, self.id, self.roles)


@contextmanager
def registered(db: Database, config: Config, roles: Sequence[str],
               clock: Callable[[], datetime]) -> Iterator[WorkerHandle]:
    """Register this process as a worker with `roles`, holding its liveness lock until the block ends.

    The lock is taken inside the registering transaction (before the row is visible), and on the way
    out the row gets `stopped_at` before the lock is freed, so another worker never judges it wrongly.
    """
    locks = liveness_locks(config.database_url, config.data_dir)
    with db.session() as session:
        worker_id = workers.register(session, socket.gethostname(), os.getpid(), roles, clock())
        locks.hold(worker_id)  # raises: the transaction rolls back, no row left behind
    handle = WorkerHandle(db, locks, worker_id, roles, clock)
    log_event("worker.registered", worker=worker_id, roles=",".join(roles), pid=os.getpid())
    try:
        yield handle
    finally:
        try:
            with db.session() as session:
                workers.mark_stopped(session, [worker_id], clock())
        except SQLAlchemyError as exc:  # the lock release below still tells the others we are gone
            log_event("worker.unregister_error", level=logging.WARNING, worker=worker_id,
                      error=f"{exc.__class__.__name__}: {exc}")
        finally:
            locks.release()
