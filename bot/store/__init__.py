"""The store: the only package that talks to the database.

Callers open a `Database`, take a transaction with `db.session()`, and call the
named functions of papers, sources, subscribers, matches and outbox with it.
"""

from bot.store import heartbeats, matches, outbox, papers, sources, subscribers
from bot.store.database import Database, open_database

__all__ = ["Database", "open_database", "heartbeats", "matches", "outbox", "papers", "sources", "subscribers"]
