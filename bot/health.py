"""Health of the service (for GET /healthz): the database answers, sources were polled, the outbox drains."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import text

from bot.store import Database, outbox, sources


def health_report(db: Database, now: datetime) -> tuple[bool, dict[str, Any]]:
    """(healthy, details): details name the database state, each source's last poll and the outbox backlog."""
    try:
        with db.session() as session:
            session.execute(text("SELECT 1"))
            polled = {s.name: {"last_polled": s.last_polled.isoformat() if s.last_polled else None,
                               "last_error": s.last_error, "active": s.active}
                      for s in sources.list_sources(session)}
            backlog = outbox.backlog(session)
    except Exception as exc:  # noqa: BLE001 - any database failure means unhealthy, reported not raised
        return False, {"database": f"error: {exc.__class__.__name__}"}
    return True, {"database": "ok", "sources": polled, "outbox": backlog, "checked_at": now.isoformat()}
