"""What the Telegram side keeps in the database: the last update handled, each chat's send hold, and the papers of
a message already delivered part by part.

A chat's hold lives in the shared `pacing` table under `telegram:CHAT` (bot/store/pacing.py
owns the global rates there): `next_slot` is the earliest time anyone may send to that chat
again. A sender takes the chat (moves it far ahead, a lease against a crash) only when it is
free, sends, then frees it one interval after the answer came back: so the 1 s between two
messages to one chat is measured from real send times, across every thread and process.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from bot.store.schema import BotStateRow, PacingRow, TelegramSentPaperRow, UTCDateTime

UPDATE_ID = "telegram.update_id"


def _insert(session: Session):  # type: ignore[no-untyped-def]
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


def get_value(session: Session, key: str) -> str | None:
    return session.scalar(select(BotStateRow.value).where(BotStateRow.key == key))


def set_value(session: Session, key: str, value: str) -> None:
    insert = _insert(session)
    statement = insert(BotStateRow).values(key=key, value=value)
    session.execute(statement.on_conflict_do_update(index_elements=["key"], set_={"value": value}))


def last_update_id(session: Session) -> int | None:
    """The id of the last Telegram update taken (None: none yet)."""
    value = get_value(session, UPDATE_ID)
    return None if value is None else int(value)


def take_update(session: Session, update_id: int) -> bool:
    """Record `update_id` as taken; False when it (or a later one) was taken before (a replayed webhook)."""
    seen = last_update_id(session)
    if seen is not None and update_id <= seen:
        return False
    set_value(session, UPDATE_ID, str(update_id))
    return True


def chat_key(chat_id: str) -> str:
    return f"telegram:{chat_id}"


def take_chat(session: Session, chat_id: str, now: datetime, lease: timedelta) -> datetime | None:
    """Hold the chat for one send (until now + lease at most); None when taken, else when it is free again."""
    key = chat_key(chat_id)
    session.execute(_insert(session)(PacingRow).values(name=key, next_slot=now)
                    .on_conflict_do_nothing(index_elements=["name"]))
    at = bindparam("now", now, type_=UTCDateTime)
    taken = session.scalar(update(PacingRow).where(PacingRow.name == key, PacingRow.next_slot <= at)
                           .values(next_slot=now + lease).returning(PacingRow.name))
    if taken is not None:
        return None
    return session.scalar(select(PacingRow.next_slot).where(PacingRow.name == key))


def free_chat(session: Session, chat_id: str, at: datetime) -> None:
    """Let the next message to the chat go at `at` (only the holder writes a held chat, so this is ours to set)."""
    session.execute(update(PacingRow).where(PacingRow.name == chat_key(chat_id)).values(next_slot=at))


def hold_chat(session: Session, chat_id: str, until: datetime) -> None:
    """Nothing goes to the chat before `until` (Telegram's 429 retry_after)."""
    session.execute(_insert(session)(PacingRow).values(name=chat_key(chat_id), next_slot=until)
                    .on_conflict_do_update(index_elements=["name"], set_={"next_slot": until}))


def record_sent_papers(session: Session, outbox_id: int, paper_ids: Iterable[str], now: datetime) -> None:
    rows = [{"outbox_id": outbox_id, "paper_id": p, "sent_at": now} for p in paper_ids]
    if rows:
        session.execute(_insert(session)(TelegramSentPaperRow).values(rows).on_conflict_do_nothing())


def sent_papers(session: Session, outbox_ids: Iterable[int]) -> dict[int, set[str]]:
    """The papers each Telegram message has delivered already (parts sent before a crash or a retry)."""
    wanted = sorted(set(outbox_ids))
    found: dict[int, set[str]] = {i: set() for i in wanted}
    for start in range(0, len(wanted), 500):
        for outbox_id, paper_id in session.execute(select(TelegramSentPaperRow.outbox_id, TelegramSentPaperRow.paper_id)
                                                   .where(TelegramSentPaperRow.outbox_id.in_(wanted[start:start + 500]))):
            found[outbox_id].add(paper_id)
    return found
