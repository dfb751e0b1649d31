"""Upgrading a database the previous release made (schema 0001, rows in every table) keeps every row.

Also: links minted before the upgrade still work after it; a schema newer than we know is refused;
two upgraders at once leave one schema; on SQLite the rebuild of `subscribers` runs with foreign keys
off (with them on, it empties the child tables: shown below) and a broken reference rolls it back.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config as AlembicConfig
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import Connection, create_engine, inspect, text
from starlette.testclient import TestClient

from bot.app import App
from bot.cli import main
from bot.config import load_config
from bot.errors import ConfigError
from bot.store import open_database
from bot.store.database import MIGRATIONS_DIR, _script_directory, make_engine
from bot.store.schema import Base
from bot.store.votes import MORE, set_vote, votes_of
from subscribers.web.routes import create_app

SECRET = "the-previous-release-secret-key"
HEAD = _script_directory().get_current_head()  # the newest migration (each adds one; the chain is linear)
PAPERPOST = Path(sys.executable).with_name("paperpost")

# What the previous release wrote, table by table, in raw SQL: the columns of schema 0001.
SOURCES = [
    (1, "arxiv-cs-cl", "https://rss.arxiv.org/rss/cs.CL", "arxiv", True, None, '"abc"', "Mon, 30 Nov 2026 00:00:00 GMT",
     0, None, "2026-11-30 06:00:00.000000", None, "2026-10-01 09:00:00.000000"),
    (2, "hf-daily", "https://huggingface.co/api/daily_papers", "hf", False, 3600, None, None, 2,
     "2026-11-30 07:00:00.000000", "2026-11-30 06:30:00.000000", "HTTP 500 from the server", "2026-10-02 09:00:00.000000"),
]
PAPERS = [
    ("arxiv:2611.00001", "Reward models", "We train reward models.", '["Ada Lovelace"]', '["cs.CL", "cs.LG"]', "cs.CL",
     "2026-11-27 00:00:00.000000", None, 1, '{"abs": "https://arxiv.org/abs/2611.00001"}', None, "new", None, None,
     None, "2026-11-28 06:00:00.000000", "2026-11-29 06:00:00.000000", "2026-11-28 06:01:00.000000"),
    ("arxiv:2611.00002", "Honest assistants", "Élan and naïveté.", '["Émilie du Châtelet", "Bob"]', '["cs.CL"]', None,
     None, "2026-11-28 00:00:00.000000", 2, '{}', 42, "replace", "10.1000/xyz", "JMLR 1", "https://t/x.png",
     "2026-11-28 06:00:00.000000", "2026-11-28 06:00:00.000000", None),
    ("hf:abc", "Trending thing", "", '[]', '[]', None, None, None, None, '{"hf": "https://huggingface.co/papers/abc"}',
     7, None, None, None, None, "2026-11-29 06:00:00.000000", "2026-11-29 06:00:00.000000", None),
]
PAPER_SOURCES = [("arxiv:2611.00001", 1), ("arxiv:2611.00002", 1), ("arxiv:2611.00002", 2), ("hf:abc", 2)]
# (id, email, status, frequency, weekday, hour, tz, chat, send_empty, bounces, created, confirmed, confirm_sent,
#  profile_changed, matched, telegram_code, code_expires)
SUBSCRIBERS = [
    (1, "ada@example.org", "active", "daily", 0, 7, "Europe/Berlin", "777", False, 0, "2026-10-01 10:00:00.000000",
     "2026-10-01 10:05:00.000000", "2026-10-01 10:00:00.000000", None, "2026-11-28 06:01:00.000000", None, None),
    (2, "bea@example.org", "bouncing", "weekly", 3, 9, "UTC", None, True, 3, "2026-10-02 10:00:00.000000",
     "2026-10-02 10:05:00.000000", None, None, None, None, None),
    (3, "Cal@Example.org", "active", "daily", 0, 7, "Asia/Tokyo", "777", False, 0, "2026-10-03 10:00:00.000000",
     None, None, "2026-11-01 00:00:00.000000", None, "c0ffee", "2026-12-01 00:00:00.000000"),
    (4, "dan@example.org", "paused", "daily", 0, 6, "UTC", "888", False, 1, "2026-10-04 10:00:00.000000",
     None, None, None, None, None, None),
    (5, "eve@example.org", "unsubscribed", "daily", 0, 7, "UTC", None, False, 0, "2026-10-05 10:00:00.000000",
     None, None, None, None, None, None),
    (6, "fay@example.org", "pending", "daily", 0, 7, "UTC", None, False, 0, "2026-11-30 10:00:00.000000",
     None, "2026-11-30 10:00:00.000000", None, None, None, None),
]
INTERESTS = [(1, 1, 0, "reward model"), (2, 1, 1, '"honest assistant" -survey'), (3, 2, 0, "cat:cs.CL"),
             (4, 3, 0, "is:trending"), (5, 4, 0, "au:Lovelace"), (6, 6, 0, "diffusion")]
# (id, subscriber, channel, kind, period, state, attempts, lease_until, next_attempt, error, created, sent, subject)
OUTBOX = [
    (1, 1, "email", "digest", "2026-11-28", "sent", 1, None, None, None, "2026-11-28 06:00:00.000000",
     "2026-11-28 06:00:05.000000", "2 new papers on reward model"),
    (2, 1, "email", "digest", "2026-11-29", "queued", 0, None, None, None, "2026-11-29 06:00:00.000000", None, None),
    (3, 2, "email", "digest", "2026-W48", "failed", 3, None, None, "550 no such user", "2026-11-23 09:00:00.000000",
     None, None),
    (4, 3, "email", "digest", "2026-11-28", "sent", 1, None, None, None, "2026-11-28 06:00:00.000000",
     "2026-11-28 06:00:07.000000", "1 new paper"),
    (5, 6, "email", "confirm", "2026-11-30T10:00:00", "sending", 1, "2026-11-30 10:05:00.000000", None, None,
     "2026-11-30 10:00:00.000000", None, None),
    (6, 4, "email", "digest", "2026-11-27", "failed", 1, None, "2026-11-30 12:00:00.000000", "421 try later",
     "2026-11-27 06:00:00.000000", None, None),
]
# (id, subscriber, paper, score, interests, hits, created, outbox_id)
MATCHES = [
    (1, 1, "arxiv:2611.00001", 3.5, '["reward model"]', '[["reward", "title", 0, 6]]', "2026-11-28 06:01:00.000000", 1),
    (2, 1, "arxiv:2611.00002", 1.0, '["\\"honest assistant\\" -survey"]', '[]', "2026-11-28 06:01:00.000000", 2),
    (3, 1, "hf:abc", 0.5, '["reward model"]', '[]', "2026-11-29 06:01:00.000000", None),
    (4, 3, "hf:abc", 2.0, '["is:trending"]', '[]', "2026-11-29 06:01:00.000000", 4),
    (5, 2, "arxiv:2611.00002", 1.5, '["cat:cs.CL"]', '[["cs.CL", "cat", 0, 5]]', "2026-11-28 06:01:00.000000", 3),
    (6, 4, "arxiv:2611.00001", 1.0, '["au:Lovelace"]', '[]', "2026-11-27 06:01:00.000000", 6),
]
HEARTBEATS = [("plan", 300, True, 4242, "box", "2026-11-30 10:05:00.000000", None, None),
              ("poll", 900, False, 4242, "box", "2026-11-30 10:00:00.000000", "2026-11-30 10:00:03.000000", None),
              ("send", 60, False, 4242, "box", "2026-11-30 10:06:00.000000", "2026-11-30 10:06:01.000000", "SMTP down")]

TABLES = {  # table -> (columns as 0001 made them, rows, order)
    "sources": ("id, name, url, kind, active, interval, etag, last_modified, failures, next_attempt_at, last_polled, "
                "last_error, created_at", SOURCES, "id"),
    "papers": ("id, title, abstract, authors, categories, primary_category, published, updated, version, links, "
               "upvotes, announce_type, doi, journal_ref, thumbnail, first_seen, last_seen, matched_at", PAPERS, "id"),
    "paper_sources": ("paper_id, source_id", PAPER_SOURCES, "paper_id, source_id"),
    "subscribers": ("id, email, status, frequency, weekday, hour, tz, telegram_chat_id, send_empty, bounces, "
                    "created_at, confirmed_at, confirm_sent_at, profile_changed_at, matched_at, telegram_code, "
                    "telegram_code_expires_at", SUBSCRIBERS, "id"),
    "interests": ("id, subscriber_id, position, text", INTERESTS, "id"),
    "outbox": ("id, subscriber_id, channel, kind, period, state, attempts, lease_until, next_attempt_at, last_error, "
               "created_at, sent_at, subject", OUTBOX, "id"),
    "matches": ("id, subscriber_id, paper_id, score, interests, hits, created_at, outbox_id", MATCHES, "id"),
    "worker_heartbeats": ("job, interval, running, pid, host, last_started, last_finished, last_error", HEARTBEATS, "job"),
}


HEAD = ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()  # whichever migration is newest


def alembic_config(connection: Connection) -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def make_release_0001(url: str) -> None:
    """The database as the previous release left it: schema 0001 and rows in every table, in raw SQL."""
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            command.upgrade(alembic_config(connection), "0001")
            for table, (columns, rows, _) in TABLES.items():
                names = [c.strip() for c in columns.split(",")]
                insert = text(f"INSERT INTO {table} ({columns}) VALUES ({', '.join(':' + n for n in names)})")
                connection.execute(insert, [dict(zip(names, row)) for row in rows])
            if connection.dialect.name == "postgresql":  # raw ids leave the sequences behind, as an import would not
                for table in ("sources", "subscribers", "interests", "outbox", "matches"):
                    connection.execute(text(f"SELECT setval('{table}_id_seq', (SELECT MAX(id) FROM {table}))"))
    finally:
        engine.dispose()


def read_rows(url: str, table: str, columns: str, order: str) -> list[tuple]:
    """Rows as the database gives them back, made comparable across backends (JSON parsed, text dates)."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(text(f"SELECT {columns} FROM {table} ORDER BY {order}")).all()
    finally:
        engine.dispose()
    return [tuple(_plain(value) for value in row) for row in rows]


def _plain(value: object) -> object:
    if hasattr(value, "isoformat"):
        return value.isoformat(sep=" ", timespec="microseconds")  # type: ignore[call-arg]
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    if isinstance(value, str) and value.startswith(("[", "{")):
        return json.dumps(json.loads(value))
    return value


def expected(table: str) -> list[tuple]:
    columns, rows, _ = TABLES[table]
    return [tuple(_plain(v) for v in row) for row in rows]


def as_before(url: str, table: str) -> list[tuple]:
    columns, _, order = TABLES[table]
    rows = read_rows(url, table, columns, order)
    # SQLite gives booleans back as 0/1: compare them as the bools they were written as.
    bools = {"sources": (4,), "subscribers": (8,), "worker_heartbeats": (2,)}.get(table, ())
    return [tuple(bool(v) if i in bools and v is not None else v for i, v in enumerate(row)) for row in rows]



def mint_v1(purpose: str, subscriber_id: int, email: str) -> str:
    """A link token exactly as the previous release minted it."""
    tag = hashlib.sha256(email.lower().encode()).hexdigest()[:10]
    return URLSafeTimedSerializer(SECRET, salt=f"paperpost.{purpose}").dumps([subscriber_id, tag])


def test_upgrade_keeps_every_row_of_the_previous_release(database_url, capsys):
    make_release_0001(database_url)
    capsys.readouterr()
    open_database(database_url).dispose()
    stderr = capsys.readouterr().err
    for table in TABLES:
        if table != "subscribers":
            assert as_before(database_url, table) == expected(table), table
    # Subscribers: every row and value kept, but for what the upgrade is there to change.
    after = {row[0]: row for row in as_before(database_url, "subscribers")}
    before = {row[0]: row for row in expected("subscribers")}
    assert set(after) == set(before)
    for subscriber_id, row in before.items():
        row = list(row)
        if subscriber_id == 2:
            row[2] = "active"  # 'bouncing' was a status; now it turns email off
        if subscriber_id == 3:
            row[7] = None  # the second holder of chat 777 loses it
        assert list(after[subscriber_id]) == row, subscriber_id
    channels = {row[0]: row[1:] for row in read_rows(
        database_url, "subscribers", "id, email_state, email_reason, telegram_state, telegram_reason, token_secret", "id")}
    assert channels[2][:4] == ("off", "bouncing: 3 permanent delivery failures in a row", "on", None)
    assert all(c[:4] == ("on", None, "on", None) for i, c in channels.items() if i != 2)
    secrets_ = [c[4] for c in channels.values()]
    assert all(s and len(s) == 32 for s in secrets_) and len(set(secrets_)) == len(secrets_)
    # The duplicate chat is reported, not a failure, and stays on the oldest subscriber.
    assert "Telegram chat 777" in stderr and "stays on #1" in stderr and "removed from #3" in stderr
    # One delivery link per old matches.outbox_id, on the channel of its message; the old column is kept.
    assert read_rows(database_url, "match_deliveries", "match_id, channel, outbox_id", "match_id") == [
        (m[0], "email", m[7]) for m in MATCHES if m[7] is not None]
    assert read_rows(database_url, "matches", "id, outbox_id", "id") == [(m[0], m[7]) for m in MATCHES]
    assert read_rows(database_url, "outbox", "owner_id", "id") == [(None,)] * len(OUTBOX)
    # 0006: matches stored before it carry no learned score and are no suggestion (today's digests, unchanged).
    assert read_rows(database_url, "matches", "learned, suggested_from", "id") == [(None, None)] * len(MATCHES)
    # The schema is the one the models describe, and a second upgrade changes nothing.
    db = open_database(database_url)
    try:
        with db.engine.connect() as connection:
            assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
            assert connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [HEAD]
        # Ids go on from the old ones in the rebuilt table.
        with db.session() as session:
            new_id = session.execute(text(
                "INSERT INTO subscribers (email, status, frequency, weekday, hour, tz, send_empty, bounces, created_at) "
                "VALUES ('gil@example.org', 'pending', 'daily', 0, 7, 'UTC', :no, 0, '2026-12-01 00:00:00.000000') "
                "RETURNING id"), {"no": False}).scalar()
        assert new_id == len(SUBSCRIBERS) + 1
        with db.session() as session:  # votes go in beside the old rows, and go with the person (cascade)
            assert set_vote(session, 1, "arxiv:2611.00001", MORE, datetime(2026, 12, 1, tzinfo=UTC))
        with db.session() as session:
            assert votes_of(session, 1) == {"arxiv:2611.00001": MORE}
            session.execute(text("DELETE FROM subscribers WHERE id = 1"))
        assert read_rows(database_url, "votes", "subscriber_id", "subscriber_id") == []
    finally:
        db.dispose()


def test_links_minted_before_the_upgrade_work_after_it(database_url, env, monkeypatch):
    make_release_0001(database_url)
    manage = mint_v1("manage", 1, "ada@example.org")
    unsubscribe = mint_v1("unsubscribe", 4, "dan@example.org")
    # The second holder of a chat and a mixed-case address: bound by the lower-cased address, as before.
    manage_cal = mint_v1("manage", 3, "Cal@Example.org")
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("PAPERPOST_SECRET_KEY", SECRET)
    app = App(load_config())
    try:
        client = TestClient(create_app(app), base_url="http://localhost", follow_redirects=False)
        page = client.get(f"/manage/{manage}")
        assert page.status_code == 200 and "reward model" in page.text and "ada@example.org" in page.text
        assert client.get(f"/manage/{manage_cal}").status_code == 200
        assert client.get(f"/manage/{manage[:-2]}xx").status_code in (400, 404)  # still signed: tampering fails
        assert client.get(f"/unsubscribe/{unsubscribe}").status_code == 200
        answer = client.post(f"/unsubscribe/{unsubscribe}", content=b"List-Unsubscribe=One-Click",
                             headers={"content-type": "application/x-www-form-urlencoded"})
        assert answer.status_code == 200 and "unsubscribed" in answer.text
    finally:
        app.close()
    assert read_rows(database_url, "subscribers", "id, status", "id")[3] == (4, "unsubscribed")
    assert read_rows(database_url, "subscribers", "id, status", "id")[0] == (1, "active")


def test_a_schema_newer_than_this_release_is_refused_with_a_sentence(database_url):
    open_database(database_url).dispose()
    engine = create_engine(database_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    with pytest.raises(ConfigError) as refused:
        open_database(database_url)
    message = str(refused.value)
    assert "9999" in message and "newer than this paperpost" in message and "upgrade paperpost" in message
    assert read_rows(database_url, "alembic_version", "version_num", "version_num") == [("9999",)]


def test_two_upgraders_at_once_both_succeed_and_leave_one_schema(database_url, env):
    environment = {**os.environ, "DATABASE_URL": database_url}
    runs = [subprocess.Popen([str(PAPERPOST), "db", "upgrade"], env=environment, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [(run.wait(timeout=120), *run.communicate()) for run in runs]
    assert [code for code, _, _ in results] == [0, 0], results
    assert all("database is up to date" in out for _, out, _ in results)
    db = open_database(database_url, upgrade=False)
    try:
        with db.engine.connect() as connection:
            assert connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [HEAD]
            assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
        assert {"match_deliveries", "workers", "paper_tombstones"} <= set(inspect(db.engine).get_table_names())
    finally:
        db.dispose()


CHILDREN = ("interests", "outbox", "matches", "match_deliveries")


def count(url: str, table: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return connection.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one()
    finally:
        engine.dispose()


def test_sqlite_rebuild_needs_foreign_keys_off_and_open_database_does_it(tmp_path):
    """The upgrade rebuilds `subscribers`; with foreign keys on, SQLite's DROP TABLE would cascade into its children."""
    ours = tmp_path / "ours.db"
    make_release_0001(f"sqlite:///{ours}")
    naive = tmp_path / "naive.db"
    shutil.copy(ours, naive)
    open_database(f"sqlite:///{ours}").dispose()
    assert [count(f"sqlite:///{ours}", t) for t in CHILDREN] == [len(INTERESTS), len(OUTBOX), len(MATCHES), 5]
    # The same upgrade run naively, foreign keys on as every connection of ours has them: the children are gone.
    engine = make_engine(f"sqlite:///{naive}")
    try:
        with engine.begin() as connection:
            command.upgrade(alembic_config(connection), "head")
    finally:
        engine.dispose()
    assert count(f"sqlite:///{naive}", "subscribers") == len(SUBSCRIBERS)
    assert [count(f"sqlite:///{naive}", t) for t in ("interests", "outbox", "matches")] == [0, 0, 0]


def test_sqlite_upgrade_with_a_broken_reference_changes_nothing(tmp_path):
    url = f"sqlite:///{tmp_path / 'broken.db'}"
    make_release_0001(url)
    engine = create_engine(url)  # no foreign keys: how an orphan row gets in
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO interests (id, subscriber_id, position, text) VALUES (99, 999, 0, 'x')"))
    engine.dispose()
    with pytest.raises(ConfigError) as refused:
        open_database(url)
    assert "pointing at missing rows" in str(refused.value) and "nothing was changed" in str(refused.value)
    assert read_rows(url, "alembic_version", "version_num", "version_num") == [("0001",)]
    engine = create_engine(url)
    assert "match_deliveries" not in inspect(engine).get_table_names()
    engine.dispose()
    assert count(url, "subscribers") == len(SUBSCRIBERS)


@pytest.mark.postgres
def test_db_upgrade_against_a_missing_database_says_so_without_the_password(env, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://postgres:s3cret-pw@127.0.0.1:5432/paperpost_not_there")
    with pytest.raises(SystemExit) as exited:
        main(["db", "upgrade"])
    err = capsys.readouterr().err
    assert exited.value.code == 1 and err.startswith("Error: Cannot open or migrate the database at")
    assert "paperpost_not_there" in err and "check DATABASE_URL" in err
    assert "s3cret-pw" not in err and "Traceback" not in err


def index_sql(url: str, name: str) -> str | None:
    """How the database itself describes an index (None: there is none of that name)."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            if connection.dialect.name == "sqlite":
                return connection.execute(text("SELECT sql FROM sqlite_master WHERE name = :n"), {"n": name}).scalar()
            return connection.execute(text("SELECT indexdef FROM pg_indexes WHERE indexname = :n"), {"n": name}).scalar()
    finally:
        engine.dispose()


def test_0007_indexes_only_the_old_links_which_deleting_a_message_still_finds_and_the_learned_matches(database_url):
    make_release_0001(database_url)
    engine = create_engine(database_url)  # on to 0006 as that release left it (SQLite: foreign keys off, as upgrades run)
    try:
        with engine.begin() as connection:
            command.upgrade(alembic_config(connection), "0006")
    finally:
        engine.dispose()
    assert "WHERE" not in index_sql(database_url, "ix_matches_outbox_id").upper()
    assert index_sql(database_url, "ix_matches_learned") is None
    before = read_rows(database_url, "matches", "id, subscriber_id, paper_id, score, outbox_id", "id")
    open_database(database_url).dispose()
    assert "outbox_id IS NOT NULL" in index_sql(database_url, "ix_matches_outbox_id")
    assert "learned IS NOT NULL" in index_sql(database_url, "ix_matches_learned")
    assert read_rows(database_url, "matches", "id, subscriber_id, paper_id, score, outbox_id", "id") == before
    db = open_database(database_url)
    try:
        with db.session() as session:  # a message deleted (retention): its old links go NULL, found through the index
            session.execute(text("DELETE FROM match_deliveries WHERE outbox_id = 1"))
            session.execute(text("DELETE FROM outbox WHERE id = 1"))
    finally:
        db.dispose()
    assert read_rows(database_url, "matches", "id, outbox_id", "id") == [
        (m[0], None if m[7] == 1 else m[7]) for m in MATCHES]
