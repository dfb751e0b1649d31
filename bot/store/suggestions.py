"""What the reader models write on matches: learned scores, and the "You may also like" rows.

A suggestion is a match row no interest made: `interests` empty, `score` 0, `suggested_from`
the liked paper that explains it. Only unsent rows are ever touched: what a message carried
stays as it was sent, and a planned digest keeps the rows linked to it (so every send attempt
renders the same digest). Writes go in bounded chunks, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import and_, bindparam, delete, exists, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bot.store.schema import MatchDeliveryRow, MatchRow

_CHUNK = 500  # ids per IN (...) list
_ROWS_PER_STATEMENT = 2000  # rows per executemany


def _unsent():  # type: ignore[no-untyped-def]
    """No message carries the match (suggestions travel by email only: unsent there is unsent anywhere)."""
    return ~exists().where(MatchDeliveryRow.match_id == MatchRow.id)


def _chunks(ids: Iterable[int]) -> list[list[int]]:
    wanted = sorted(set(ids))
    return [wanted[i:i + _CHUNK] for i in range(0, len(wanted), _CHUNK)]


def unsent_keyword_papers(session: Session, subscriber_ids: Iterable[int]) -> dict[int, list[str]]:
    """Per subscriber, the papers of their keyword matches no email has carried yet (those with any)."""
    found: dict[int, list[str]] = {}
    for chunk in _chunks(subscriber_ids):
        rows = session.execute(select(MatchRow.subscriber_id, MatchRow.paper_id).where(
            MatchRow.subscriber_id.in_(chunk), MatchRow.suggested_from.is_(None),
            ~exists().where(MatchDeliveryRow.match_id == MatchRow.id, MatchDeliveryRow.channel == "email"))
            .order_by(MatchRow.subscriber_id, MatchRow.paper_id))
        for subscriber_id, paper_id in rows:
            found.setdefault(subscriber_id, []).append(paper_id)
    return found


def taken_papers(session: Session, subscriber_ids: Iterable[int]) -> dict[int, set[str]]:
    """Per subscriber, the papers never to suggest: every match they have, but their unsent suggestions."""
    found: dict[int, set[str]] = {}
    for chunk in _chunks(subscriber_ids):
        rows = session.execute(select(MatchRow.subscriber_id, MatchRow.paper_id).where(
            MatchRow.subscriber_id.in_(chunk), ~and_(MatchRow.suggested_from.is_not(None), _unsent())))
        for subscriber_id, paper_id in rows:
            found.setdefault(subscriber_id, set()).add(paper_id)
    return found


def set_learned(session: Session, scores: Iterable[tuple[int, str, float | None]]) -> int:
    """Write (subscriber, paper, learned score) on those unsent keyword matches; returns the rows given."""
    statement = (update(MatchRow.__table__)
                 .where(MatchRow.__table__.c.subscriber_id == bindparam("sid"),
                        MatchRow.__table__.c.paper_id == bindparam("pid"))
                 .values(learned=bindparam("value")))
    count = 0
    batch: list[dict] = []
    for subscriber_id, paper_id, value in scores:
        batch.append({"sid": subscriber_id, "pid": paper_id, "value": value})
        if len(batch) == _ROWS_PER_STATEMENT:
            session.connection().execute(statement, batch)
            count += len(batch)
            batch = []
    if batch:
        session.connection().execute(statement, batch)
        count += len(batch)
    return count


def forget_learned(session: Session, subscriber_ids: Iterable[int]) -> None:
    """No model for these readers today (no vote left): clear learned scores and suggestions not sent yet."""
    for chunk in _chunks(subscriber_ids):
        session.execute(update(MatchRow).where(MatchRow.subscriber_id.in_(chunk), MatchRow.learned.is_not(None),
                                               _unsent()).values(learned=None)
                        .execution_options(synchronize_session=False))
        _drop_unsent_suggestions(session, chunk)


def replace_suggestions(session: Session, subscriber_ids: Sequence[int],
                        rows: Iterable[tuple[int, str, float, str]], now: datetime) -> int:
    """Make (subscriber, paper, learned, liked paper) the only unsent suggestions of these subscribers.

    Their earlier unsent suggestions go first: suggestions are replaced, never accumulated. A
    pair that has a match already (a keyword matched it meanwhile) is skipped. Returns how many
    were stored.
    """
    for chunk in _chunks(subscriber_ids):
        _drop_unsent_suggestions(session, chunk)
    table = MatchRow.__table__
    dialect = session.connection().dialect.name
    build = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = build(table).on_conflict_do_nothing(index_elements=["subscriber_id", "paper_id"]).returning(table.c.id)
    stored = 0
    batch: list[dict] = []
    for subscriber_id, paper_id, learned, liked in rows:
        batch.append({"subscriber_id": subscriber_id, "paper_id": paper_id, "score": 0.0, "interests": [],
                      "created_at": now, "learned": learned, "suggested_from": liked})
        if len(batch) == _ROWS_PER_STATEMENT:
            stored += _insert(session, statement, batch)
            batch = []
    if batch:
        stored += _insert(session, statement, batch)
    return stored


def _insert(session: Session, statement, batch: list[dict]) -> int:  # type: ignore[no-untyped-def]
    """One multi-row INSERT; the ids it returns are the rows stored (a pair that exists returns none)."""
    return len(session.connection().execute(statement, batch).all())


def _drop_unsent_suggestions(session: Session, chunk: list[int]) -> None:
    session.execute(delete(MatchRow).where(MatchRow.subscriber_id.in_(chunk), MatchRow.suggested_from.is_not(None),
                                           _unsent()).execution_options(synchronize_session=False))
