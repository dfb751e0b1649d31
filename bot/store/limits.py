"""Rate-limit counters shared by every process on one database: hits per key in fixed windows (`rate_hits`)."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bot.store.schema import RateHitRow

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def window_start(now: datetime, window_seconds: int) -> datetime:
    """The start of the fixed window `now` falls in (windows are aligned to the epoch, so every process agrees)."""
    seconds = int((now - _EPOCH).total_seconds())
    return _EPOCH + timedelta(seconds=seconds - seconds % max(1, window_seconds))


def hit(session: Session, key: str, now: datetime, window_seconds: int) -> int:
    """Count one hit for `key` in the current window and return the window's count, this hit included.

    One statement (insert, or add one on conflict) so that two processes hitting the
    same key at once both count: no read-then-write race on either SQLite or PostgreSQL.
    """
    start = window_start(now, window_seconds)
    if len(key) > 200:  # the column holds 200: long keys (long addresses) keep their prefix and a hash of the rest
        key = key[:150] + "#" + hashlib.sha256(key.encode()).hexdigest()[:40]
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(RateHitRow).values(key=key, window_start=start, count=1)
    statement = statement.on_conflict_do_update(index_elements=[RateHitRow.key, RateHitRow.window_start],
                                                set_={"count": RateHitRow.count + 1}).returning(RateHitRow.count)
    return int(session.execute(statement).scalar_one())


def prune(session: Session, before: datetime) -> int:
    """Forget windows that started before `before` (they can no longer limit anything); how many went."""
    result = session.execute(delete(RateHitRow).where(RateHitRow.window_start < before))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
