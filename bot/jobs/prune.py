"""The daily housekeeping job: prune delivered messages, their matches and unneeded papers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from bot.logs import log_event
from bot.store.database import Database
from bot.store.retention import PruneReport, prune_in_chunks


class _Wired(Protocol):
    """What the job needs of the App (named structurally: jobs sit below the wiring layer)."""

    @property
    def db(self) -> Database: ...
    @property
    def config(self) -> Any: ...
    @property
    def clock(self) -> Callable[[], datetime]: ...


def prune_step(app: _Wired) -> PruneReport:
    """Prune what is older than PAPERPOST_RETENTION_DAYS (committed in chunks) and log one line with the counts."""
    days = app.config["PAPERPOST_RETENTION_DAYS"]
    report = prune_in_chunks(app.db, app.clock(), days)
    log_event("prune", retention_days=days, outbox=report.outbox, matches=report.matches, papers=report.papers)
    return report
