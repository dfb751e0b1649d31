"""Shared fixtures: an isolated data dir and settings per test, and an App wired to them."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # the local peers (smtpserver, feedserver) import as modules

from bot.app import App  # noqa: E402
from bot.config import load_config  # noqa: E402

if TYPE_CHECKING:
    from bot.store import Database

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A clean paperpost environment in a temporary data dir (no SMTP: the outbox folder)."""
    for name in list(__import__("os").environ):
        if name.startswith("PAPERPOST_") or name in ("DATABASE_URL", "PORT"):
            monkeypatch.delenv(name)
    values = {"PAPERPOST_DATA": str(tmp_path / "data"), "PAPERPOST_CONFIG": str(tmp_path / "none.toml")}
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


@pytest.fixture
def app(env: dict[str, str]) -> Iterator[App]:
    application = App(load_config(), clock=lambda: datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc))
    yield application
    application.close()


POSTGRES_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh empty database: a SQLite file, and a new database on the machine's PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'paperpost.db'}"
        return
    import uuid

    from sqlalchemy import create_engine, text

    name = f"paperpost_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def db(database_url: str) -> Iterator["Database"]:
    """A migrated Database on `database_url` (SQLite and PostgreSQL)."""
    from bot.store import open_database

    database = open_database(database_url)
    yield database
    database.dispose()


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate and key for 127.0.0.1, made now with openssl (the TLS tests' server side)."""
    import shutil
    import subprocess

    if shutil.which("openssl") is None:
        pytest.fail("openssl is needed to make the test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    return cert, key


@pytest.fixture
def run(env, capsys, monkeypatch):  # type: ignore[no-untyped-def]
    """Run `paperpost ARGS...` in-process; return (exit code, stdout, stderr)."""
    from bot.cli import main

    monkeypatch.setenv("COLUMNS", "250")  # rich wraps at the terminal width; keep each line whole

    def invoke(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        out, err = capsys.readouterr()
        return code, out, err

    return invoke
