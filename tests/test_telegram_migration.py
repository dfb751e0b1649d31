"""Migration 0005 (Telegram) from a 0002 database with rows in it: every row kept, chats that exist count as never
started (an operator added them), every subscriber in instant mode without quiet hours; the schema is the models'."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from bot.store import open_database
from bot.store.database import _alembic_config, make_engine
from bot.store.schema import Base

ROWS = [(1, "ada@example.org", "777"), (2, "bo@example.org", None), (3, None, "888")]


def test_upgrade_from_0002_keeps_rows_and_sets_telegram_defaults(database_url):
    engine = make_engine(database_url)
    with engine.begin() as connection:
        command.upgrade(_alembic_config(connection), "0002")
        for sid, email, chat in ROWS:
            connection.execute(text(
                "INSERT INTO subscribers (id, email, telegram_chat_id, status, frequency, weekday, hour, tz, send_empty,"
                " bounces, created_at, email_state, telegram_state, token_secret) VALUES (:id, :email, :chat, 'active',"
                " 'daily', 0, 7, 'UTC', :no, 0, '2026-11-01 00:00:00', 'on', 'on', :secret)"),
                {"id": sid, "email": email, "chat": chat, "no": False, "secret": f"s{sid}"})
        connection.execute(text("INSERT INTO outbox (id, subscriber_id, channel, kind, period, state, attempts, "
                                "created_at) VALUES (1, 1, 'email', 'digest', '2026-11-01', 'sent', 1, "
                                "'2026-11-01 00:00:00')"))
    engine.dispose()
    db = open_database(database_url)
    try:
        with db.engine.connect() as connection:
            rows = connection.execute(text(
                "SELECT id, email, telegram_chat_id, telegram_mode, quiet_start, quiet_end, telegram_held, "
                "telegram_started, telegram_from_match FROM subscribers ORDER BY id")).all()
            assert [tuple(r) for r in rows] == [(sid, email, chat, "instant", None, None, False, False, None)
                                                for sid, email, chat in ROWS]
            assert connection.execute(text("SELECT count(*) FROM outbox")).scalar() == 1
            assert connection.execute(text("SELECT count(*) FROM bot_state")).scalar() == 0
            assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
    finally:
        db.dispose()
