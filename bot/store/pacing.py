"""Send rates shared by every process on one database: the next free slot per name, reserved atomically.

`reserve` takes `count` consecutive slots `interval` seconds apart with one
UPDATE ... RETURNING (the row is created the first time a name is used), so two
senders on one database never get the same slot. The slot times are wall-clock
UTC: every process on the database must read the same clock.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import bindparam, func, literal, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from bot.store.schema import PacingRow, UTCDateTime

_SQLITE_TIME = "%Y-%m-%d %H:%M:%f"  # SQLite's own date arithmetic keeps milliseconds: enough for any send rate


def reserve(session: Session, name: str, interval_seconds: float, now: datetime, count: int = 1) -> datetime:
    """Reserve `count` slots on `name`, `interval_seconds` apart; the start of the first (>= now).

    The caller sends its k-th message at start + k * interval_seconds, not before.
    """
    dialect = session.get_bind().dialect.name
    span = interval_seconds * count
    at = bindparam("now", now, type_=UTCDateTime)
    row = {"name": name, "next_slot": now}
    if dialect == "postgresql":
        session.execute(pg_insert(PacingRow).values(**row).on_conflict_do_nothing(index_elements=["name"]))
        moved = func.greatest(PacingRow.next_slot, at) + timedelta(seconds=span)
    else:
        session.execute(sqlite_insert(PacingRow).values(**row).on_conflict_do_nothing(index_elements=["name"]))
        # Stored as text in one format, so max() of two times is the later one.
        moved = func.strftime(_SQLITE_TIME, func.max(PacingRow.next_slot, at), literal(f"+{span:.3f} seconds"))
    end = session.scalar(update(PacingRow).where(PacingRow.name == name).values(next_slot=moved)
                         .returning(PacingRow.next_slot))
    assert end is not None  # the row was inserted above if it was missing
    return end - timedelta(seconds=span)


def next_slot(session: Session, name: str) -> datetime | None:
    """When the next slot on `name` begins (None: never used)."""
    return session.scalar(select(PacingRow.next_slot).where(PacingRow.name == name))
