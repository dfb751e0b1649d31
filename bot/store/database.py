"""The database handle: engine, SQLite pragmas, migrations, sessions."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from bot.errors import ConfigError

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


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
        """Apply every pending migration (idempotent)."""
        with self.engine.begin() as connection:
            alembic_cfg = AlembicConfig()
            alembic_cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
            alembic_cfg.attributes["connection"] = connection
            command.upgrade(alembic_cfg, "head")

    def dispose(self) -> None:
        self.engine.dispose()


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


def open_database(url: str, *, upgrade: bool = True) -> Database:
    """Open the database and bring its schema up to date (migrations also run on start)."""
    database = Database(url)
    if upgrade:
        try:
            database.upgrade()
        except SQLAlchemyError as exc:
            raise ConfigError(f"Cannot open or migrate the database at {url!r} ({exc.__class__.__name__}: {exc.args[0] if exc.args else exc}); check DATABASE_URL.") from exc
    return database
