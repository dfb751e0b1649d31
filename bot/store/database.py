"""The database handle: engine, SQLite pragmas, migrations, sessions."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from bot import __version__
from bot.errors import ConfigError

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
MIGRATION_LOCK_KEY = 0x70707570677261  # "ppupgra": one upgrader at a time on a PostgreSQL database


def _alembic_config(connection: Connection) -> AlembicConfig:
    alembic_cfg = AlembicConfig()
    alembic_cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    alembic_cfg.attributes["connection"] = connection
    return alembic_cfg


def _script_directory() -> ScriptDirectory:
    alembic_cfg = AlembicConfig()
    alembic_cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return ScriptDirectory.from_config(alembic_cfg)


def _run_migrations(connection: Connection) -> None:
    command.upgrade(_alembic_config(connection), "head")


def _upgrade_sqlite(connection: Connection) -> None:
    """The SQLite upgrade: the driver's implicit transactions off, so that DDL and data share one transaction."""
    raw = connection.connection.dbapi_connection
    saved = raw.isolation_level  # type: ignore[union-attr]
    raw.isolation_level = None  # type: ignore[union-attr]
    try:
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")  # only outside a transaction does SQLite take it
        connection.commit()
        connection.exec_driver_sql("BEGIN IMMEDIATE")
        try:
            _run_migrations(connection)
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
            if broken:
                raise ConfigError(f"The upgrade would leave {len(broken)} rows pointing at missing rows "
                                  f"(first: {tuple(broken[0])}); nothing was changed. Report this with the database.")
            connection.commit()
        except BaseException:
            connection.rollback()
            raise
    finally:
        connection.exec_driver_sql("PRAGMA foreign_keys=ON")
        connection.commit()
        raw.isolation_level = saved  # type: ignore[union-attr]


class Database:
    """Owns the engine; `session()` gives a transaction that commits on success."""

    def __init__(self, url: str):
        self.url = url
        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._sessions.begin() as session:
            yield session

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def upgrade(self) -> None:
        """Apply every pending migration (idempotent), one process at a time, all or nothing.

        PostgreSQL: one transaction under an advisory lock. SQLite: one `BEGIN IMMEDIATE`
        transaction (the write lock keeps a second upgrader waiting) with foreign keys off, because
        rebuilding a parent table with them on cascades its deletes into the child tables; it ends
        with `PRAGMA foreign_key_check`, and any violation rolls the whole upgrade back.
        """
        with self.engine.connect() as connection:
            if self.is_sqlite:
                _upgrade_sqlite(connection)
            else:
                with connection.begin():
                    connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
                    _run_migrations(connection)

    def check_schema(self) -> None:
        """Refuse a database whose schema is newer than this release knows (ConfigError with what to do)."""
        known = {script.revision for script in _script_directory().walk_revisions()}
        with self.engine.connect() as connection:
            current = set(MigrationContext.configure(connection).get_current_heads())
        unknown = current - known
        if unknown:
            raise ConfigError(
                f"The database at {shown_url(self.url)!r} has schema revision {', '.join(sorted(unknown))}, newer than this "
                f"paperpost ({__version__}) knows; upgrade paperpost to the release that wrote it, "
                "or point DATABASE_URL at another database.")

    def dispose(self) -> None:
        self.engine.dispose()


def shown_url(url: str) -> str:
    """The URL fit for logs and errors: the password masked."""
    return make_url(url).render_as_string(hide_password=True)


def make_engine(url: str) -> Engine:
    """An engine with the settings this project relies on (WAL and foreign keys on SQLite)."""
    if url.startswith("sqlite:///"):
        path = url.removeprefix("sqlite:///")
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    try:
        engine = create_engine(url, connect_args={"timeout": 30} if url.startswith("sqlite") else {})
    except (SQLAlchemyError, ImportError, ValueError) as exc:
        raise ConfigError(f"DATABASE_URL {url!r} cannot be used ({exc}); check the URL and its driver.") from exc
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


BULK_CACHE_KB = 65536


def for_bulk_writes(session: Session) -> None:
    """Give this session's SQLite connection 64 MB of page cache (the default is 2 MB) for the rest of its life.

    A day's matches go into indexes of hundreds of MB; with a small cache every insert rereads and
    rewrites pages. Only the matcher and the planner ask for it (one connection each), so senders
    with a connection per thread stay small.
    """
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql(f"PRAGMA cache_size=-{BULK_CACHE_KB}")


def open_database(url: str, *, upgrade: bool = True) -> Database:
    """Open the database and bring its schema up to date (migrations also run on start)."""
    database = Database(url)
    try:
        database.check_schema()  # the first connection: an unreachable database is a sentence too, not a traceback
        if upgrade:
            database.upgrade()
    except SQLAlchemyError as exc:
        raise ConfigError(f"Cannot open or migrate the database at {shown_url(url)!r} ({exc.__class__.__name__}: {exc.args[0] if exc.args else exc}); check DATABASE_URL.") from exc
    return database
