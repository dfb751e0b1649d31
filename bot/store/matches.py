"""Matches (subscriber, paper, evidence) in the database, and which message carries each one on each channel.

A match is stored once; `match_deliveries` links it to the outbox row that
carries it on a channel (at most one per (match, channel)). "Unsent on channel
C" means no link for C. A dropped message deletes its links, so its matches
roll into the next message. `matches.outbox_id` is the old single link: kept
one release for a safe upgrade, never read or written here.

Suggestions ("You may also like": `suggested_from` set, made by a reader's model, not by an
interest) travel in email digests only: for every other channel they are not "unsent".
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import Text, and_, case, cast, delete, exists, func, insert, literal, or_, select, text, true
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from bot.digest.evidence import with_hits
from bot.models import Hit, Match
from bot.store.database import for_bulk_writes
from bot.store.papers import papers_by_id
from bot.store.schema import MatchDeliveryRow, MatchRow, OutboxRow, SubscriberRow

_CHUNK = 500  # ids per IN (...) list: well under every backend's limit on bound parameters
_ROWS_PER_STATEMENT = 5000  # matches per bulk INSERT: bounded memory on a broad day
EMAIL = "email"


def save_matches(session: Session, matches: Iterable[Match], now: datetime) -> int:
    """Insert the matches not stored yet, in bulk; returns how many were new."""
    return save_match_rows(session, ((m.subscriber_id, m.paper_id, m.score, m.interests) for m in matches), now)


def save_match_rows(session: Session, matches: Iterable[tuple[int, str, float, tuple[str, ...]]], now: datetime) -> int:
    """save_matches of (subscriber, paper id, score, interest lines) rows (MatchSets.rows: no Match per pair).

    Rows are compact: who, which paper, score, which interests; hits are found again at
    render time for the papers a message shows (bot/digest/evidence.py). A pair stored
    already is skipped by the database (its unique (subscriber, paper)), not looked up
    first: a changed profile runs over papers that thousands of others matched. The rows
    go straight to the driver (a broad day stores millions: no SQLAlchemy work per row).
    """
    for_bulk_writes(session)
    connection = session.connection()
    dialect = connection.dialect
    created = MatchRow.__table__.c.created_at.type.dialect_impl(dialect).bind_processor(dialect)
    stamp = created(now) if created else now
    as_json: dict[tuple[str, ...], str] = {}  # one subscriber's matches share their few interest lists
    load = _copy_new if dialect.name == "postgresql" else _insert_new
    added = 0
    rows: list[tuple] = []
    for subscriber_id, paper_id, score, lines in matches:
        interests = as_json.get(lines)
        if interests is None:
            interests = as_json[lines] = json.dumps(list(lines))
        rows.append((subscriber_id, paper_id, score, interests, stamp))
        if len(rows) == _ROWS_PER_STATEMENT:
            added += load(connection.connection.dbapi_connection, rows)
            rows = []
    if rows:
        added += load(connection.connection.dbapi_connection, rows)
    return added


_COLUMNS = "subscriber_id, paper_id, score, interests, created_at"


def _insert_new(dbapi: Any, rows: list[tuple]) -> int:
    """SQLite: one executemany; INSERT OR IGNORE skips the pairs stored already."""
    cursor = dbapi.cursor()
    try:
        cursor.executemany(f"INSERT OR IGNORE INTO matches ({_COLUMNS}) VALUES (?, ?, ?, ?, ?)", rows)
        return cursor.rowcount
    finally:
        cursor.close()


def _copy_new(dbapi: Any, rows: list[tuple]) -> int:
    """PostgreSQL: COPY into a temporary table, then one INSERT ... ON CONFLICT DO NOTHING."""
    with dbapi.cursor() as cursor:
        cursor.execute("CREATE TEMPORARY TABLE IF NOT EXISTS matches_load (subscriber_id integer, paper_id text, "
                       "score double precision, interests json, created_at timestamp) ON COMMIT DELETE ROWS")
        with cursor.copy(f"COPY matches_load ({_COLUMNS}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cursor.execute(f"INSERT INTO matches ({_COLUMNS}) SELECT {_COLUMNS} FROM matches_load "
                       "ON CONFLICT (subscriber_id, paper_id) DO NOTHING")
        added = cursor.rowcount
        cursor.execute("TRUNCATE matches_load")
        return added


def refresh_statistics(session: Session) -> None:
    """PostgreSQL: ANALYZE matches after a bulk load (a fraction of a second; nothing to do on SQLite).

    A young table has no statistics until autovacuum comes by: planning then hash-joined a full
    scan of the day's matches once per 500 digests, where the (subscriber, paper) index serves.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("ANALYZE matches"))


def _match(subscriber_id: int, paper_id: str, score: float, interests: list[str], hits: list | None,
           learned: float | None = None, suggested_from: str | None = None) -> Match:
    """A stored match; hits only for rows written before 0003 (others get theirs at render time)."""
    return Match(subscriber_id, paper_id, score, tuple(interests), _hits(hits), learned, suggested_from)


def _hits(stored: list | None) -> tuple[Hit, ...]:
    return tuple(Hit(term=t, field=f, start=s, end=e) for t, f, s, e in stored) if stored else ()


def to_match(row: MatchRow) -> Match:
    return _match(row.subscriber_id, row.paper_id, row.score, row.interests, row.hits, row.learned,
                  row.suggested_from)


def _unsent_on(channel: str):  # type: ignore[no-untyped-def]
    """No message carries the match on `channel` (and the match may travel on it: suggestions go by email only)."""
    return and_(~exists().where(MatchDeliveryRow.match_id == MatchRow.id, MatchDeliveryRow.channel == channel),
                _may_travel_on(channel))


def _may_travel_on(channel: str):  # type: ignore[no-untyped-def]
    return true() if channel == EMAIL else MatchRow.suggested_from.is_(None)


def _carried_anywhere():  # type: ignore[no-untyped-def]
    return exists().where(MatchDeliveryRow.match_id == MatchRow.id)


def unsent_match_ids(session: Session, subscriber_id: int, channel: str = EMAIL) -> list[int]:
    """Matches of a subscriber that no message has carried yet on `channel`."""
    return list(session.scalars(select(MatchRow.id).where(
        MatchRow.subscriber_id == subscriber_id, _unsent_on(channel)).order_by(MatchRow.id)))


def unsent_matches(session: Session, subscriber_id: int, channel: str = EMAIL) -> list[Match]:
    rows = session.scalars(select(MatchRow).where(MatchRow.subscriber_id == subscriber_id, _unsent_on(channel))
                           .order_by(MatchRow.id))
    return [to_match(row) for row in rows]


def attach_to_outbox(session: Session, match_ids: list[int], outbox_id: int | None, channel: str = EMAIL) -> None:
    """Give matches to a message on `channel` (or back to the pool with None)."""
    if outbox_id is None:
        for start in range(0, len(match_ids), _CHUNK):
            session.execute(delete(MatchDeliveryRow).where(MatchDeliveryRow.channel == channel,
                                                           MatchDeliveryRow.match_id.in_(match_ids[start:start + _CHUNK])))
        return
    attach_many(session, {outbox_id: match_ids}, channel)


def matches_of_outbox(session: Session, outbox_id: int) -> list[Match]:
    return matches_by_outbox(session, [outbox_id])[outbox_id]


def drop_unsent(session: Session, subscriber_ids: list[int]) -> None:
    """Forget the matches no message has carried yet on any channel (the profile they came from changed)."""
    for start in range(0, len(subscriber_ids), _CHUNK):
        session.execute(delete(MatchRow).where(MatchRow.subscriber_id.in_(subscriber_ids[start:start + _CHUNK]),
                                               ~_carried_anywhere()).execution_options(synchronize_session=False))


def release_from_outbox(session: Session, outbox_id: int) -> None:
    """Give a dropped message's matches back to the pool for the next one on its channel."""
    release_many(session, [outbox_id])


def release_many(session: Session, outbox_ids: list[int]) -> None:
    """release_from_outbox for many messages at once."""
    for start in range(0, len(outbox_ids), _CHUNK):
        session.execute(delete(MatchDeliveryRow).where(MatchDeliveryRow.outbox_id.in_(outbox_ids[start:start + _CHUNK])))


def unsent_match_ids_by_subscriber(session: Session, subscriber_ids: list[int],
                                   channel: str = EMAIL) -> dict[int, list[int]]:
    """unsent_match_ids for many subscribers in one query per 500 (the planner's bulk path)."""
    found: dict[int, list[int]] = {}
    for start in range(0, len(subscriber_ids), _CHUNK):  # stay under SQLite's bound-parameter limit
        chunk = subscriber_ids[start:start + _CHUNK]
        rows = session.execute(select(MatchRow.subscriber_id, MatchRow.id).where(
            MatchRow.subscriber_id.in_(chunk), _unsent_on(channel)).order_by(MatchRow.id))
        for subscriber_id, match_id in rows:
            found.setdefault(subscriber_id, []).append(match_id)
    return found


def subscribers_with_unsent(session: Session, channel: str = EMAIL) -> set[int]:
    """The subscribers with at least one match that no message has carried yet on `channel`.

    Asked per subscriber, through the (subscriber, paper) index, stopping at the first unsent
    match: not a scan of every match (a broad day's ten million, before the first digest).
    """
    return set(session.scalars(select(SubscriberRow.id).where(
        exists().where(MatchRow.subscriber_id == SubscriberRow.id, _unsent_on(channel)))))


def subscribers_with_learned(session: Session) -> set[int]:
    """The subscribers with a match that a reader's model scored or suggested (sent or not): one scan.

    Everyone else has no learned score and no suggestion to clear: the learn step skips them.
    The partial index ix_matches_learned holds only such matches: the scan reads them alone.
    """
    return set(session.scalars(select(MatchRow.subscriber_id).where(
        or_(MatchRow.learned.is_not(None), MatchRow.suggested_from.is_not(None))).distinct()))


def attach_unsent(session: Session, outbox_ids: list[int], channel: str = EMAIL) -> None:
    """Give each message every match of its subscriber not carried yet on `channel`: set-based, in the database.

    The planner's path: a broad day links millions of matches, none of them through Python. A match
    carried already is skipped by the link's key (match, channel), not by NOT EXISTS: on a young
    table PostgreSQL's statistics say it is empty, and it scanned the whole table once per match
    it linked (a typical day's planning took 30 s instead of 2).
    """
    for_bulk_writes(session)
    make = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    for start in range(0, len(outbox_ids), _CHUNK):
        chosen = select(MatchRow.id, literal(channel), OutboxRow.id).join(
            OutboxRow, OutboxRow.subscriber_id == MatchRow.subscriber_id).where(
            OutboxRow.id.in_(outbox_ids[start:start + _CHUNK]), _may_travel_on(channel))
        session.execute(make(MatchDeliveryRow).from_select(["match_id", "channel", "outbox_id"], chosen)
                        .on_conflict_do_nothing(index_elements=["match_id", "channel"]))


def attach_many(session: Session, match_ids_by_outbox: dict[int, list[int]], channel: str = EMAIL) -> None:
    """Link many matches to their messages on `channel`: one executemany INSERT."""
    rows = [{"match_id": m, "channel": channel, "outbox_id": o} for o, ids in match_ids_by_outbox.items() for m in ids]
    if rows:
        session.execute(insert(MatchDeliveryRow), rows)


def matches_by_outbox(session: Session, outbox_ids: Iterable[int]) -> dict[int, list[Match]]:
    """The matches each message carries, with their hits (found again for rows stored without)."""
    found = stored_matches_by_outbox(session, outbox_ids)
    carried = [m for ms in found.values() for m in ms]
    filled = iter(with_hits(carried, papers_by_id(session, {m.paper_id for m in carried})))
    return {outbox_id: [next(filled) for _ in ms] for outbox_id, ms in found.items()}


def stored_matches_by_outbox(session: Session, outbox_ids: Iterable[int]) -> dict[int, list[Match]]:
    """The matches each message carries as stored (hits left for render time), in one query per 500.

    A broad day's digests carry hundreds of matches each: the interest lists come back as
    their JSON text and are decoded once per distinct text (a subscriber's matches share a few).
    """
    wanted = sorted(set(outbox_ids))
    found: dict[int, list[Match]] = {i: [] for i in wanted}
    decoded: dict[str, tuple[str, ...]] = {}
    rows_of = _carried_per_message if session.get_bind().dialect.name == "sqlite" else _carried_per_match
    for start in range(0, len(wanted), _CHUNK):
        for outbox_id, subscriber_id, paper_id, score, interests, hits, learned, suggested_from in rows_of(
                session, wanted[start:start + _CHUNK]):
            lines = decoded.get(interests)
            if lines is None:
                lines = decoded[interests] = tuple(json.loads(interests))
            found[outbox_id].append(Match(subscriber_id, paper_id, score, lines, _hits(hits), learned, suggested_from))
    return found


_CARRIED = (MatchRow.subscriber_id, MatchRow.paper_id, MatchRow.score, cast(MatchRow.interests, Text), MatchRow.hits,
            MatchRow.learned, MatchRow.suggested_from)


def _carried_per_match(session: Session, outbox_ids: list[int]) -> Iterator[tuple]:
    """(outbox id, *_CARRIED) of each carried match, in match order: one row per match (the driver fetches them at once)."""
    yield from session.execute(select(MatchDeliveryRow.outbox_id, *_CARRIED).join(
        MatchRow, MatchRow.id == MatchDeliveryRow.match_id).where(MatchDeliveryRow.outbox_id.in_(outbox_ids))
        .order_by(MatchRow.id))


def _carried_per_message(session: Session, outbox_ids: list[int]) -> Iterator[tuple]:
    """_carried_per_match on SQLite, fetched as one row per message (its matches in a JSON array).

    Python's SQLite driver lets go of the GIL for every row it steps to and must win it back
    from the sending threads each time: fetching a claim's 250,000 matches one row at a time
    took four times as long as finding them. Scores go through the JSON as 17-digit text (exact).
    """
    def exact(column):  # type: ignore[no-untyped-def]
        return case((column.is_(None), None), else_=func.printf("%!.17g", column))

    match = func.json_array(MatchRow.id, MatchRow.subscriber_id, MatchRow.paper_id, exact(MatchRow.score),
                            cast(MatchRow.interests, Text), func.json(MatchRow.hits), exact(MatchRow.learned),
                            MatchRow.suggested_from)
    rows = session.execute(select(MatchDeliveryRow.outbox_id, func.json_group_array(match)).join(
        MatchRow, MatchRow.id == MatchDeliveryRow.match_id).where(MatchDeliveryRow.outbox_id.in_(outbox_ids))
        .group_by(MatchDeliveryRow.outbox_id))
    for outbox_id, carried in rows:
        for _, subscriber_id, paper_id, score, interests, hits, learned, suggested_from in sorted(json.loads(carried)):
            yield (outbox_id, subscriber_id, paper_id, float(score), interests, hits,
                   None if learned is None else float(learned), suggested_from)
