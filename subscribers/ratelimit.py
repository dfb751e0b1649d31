"""Rate limits of the pages, counted in the database so that every web process shares them.

Fixed windows (bot/store/limits.py): a key may have `limit` hits per window of
`window` seconds, aligned to the clock, the same for every process on the database.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from bot.store import Database
from bot.store import limits as store_limits

PRUNE_EVERY = timedelta(minutes=10)  # how often one process forgets windows that ended


@dataclass(frozen=True)
class Rule:
    """At most `limit` hits per `window` seconds."""

    limit: int
    window: float


class RateLimiter:
    """`allow(key, rule)` counts a hit in the shared table and says whether it is within the rule.

    Made without a database, it is bound to the App's by the Site that uses it
    (`bound_to`), so callers that only want the default need not know the database.
    """

    def __init__(self, db: Database | None = None, clock: Callable[[], datetime] | None = None):
        self.db = db
        self._clock = clock
        self._longest = 3600  # seconds: windows older than the longest rule seen are pruned
        self._pruned_at: datetime | None = None

    def bound_to(self, db: Database, clock: Callable[[], datetime]) -> "RateLimiter":
        """This limiter if it has a database already, else one counting in `db`."""
        return self if self.db is not None else RateLimiter(db, self._clock or clock)

    def allow(self, key: str, rule: Rule) -> bool:
        """Count this attempt; True when it is within the rule (attempts over the limit count too)."""
        if self.db is None or self._clock is None:
            raise RuntimeError("RateLimiter has no database: bind it with bound_to(db, clock)")
        with self.db.session() as session:
            return self.allow_in(session, key, rule)

    def allow_in(self, session: Session, key: str, rule: Rule) -> bool:
        """`allow`, counted in the caller's transaction (one write transaction at a time on SQLite)."""
        if self._clock is None:
            raise RuntimeError("RateLimiter has no clock: bind it with bound_to(db, clock)")
        now = self._clock()
        window = max(1, int(rule.window))
        self._longest = max(self._longest, window)
        count = store_limits.hit(session, key, now, window)
        if self._pruned_at is None or now - self._pruned_at >= PRUNE_EVERY:
            self._pruned_at = now
            store_limits.prune(session, now - timedelta(seconds=2 * self._longest))
        return count <= rule.limit


def mailbox_key(address: str) -> str:
    """The mailbox an address reaches, for limits only: plus-tags and dots of the local part folded.

    `Victim.Name+7@example.org` and `victimname@example.org` land in one inbox at many
    providers, so they share one allowance of mails; folding too much only merges limits.
    """
    local, _, domain = address.lower().rpartition("@")
    return f"mailbox:{local.partition('+')[0].replace('.', '')}@{domain}"
