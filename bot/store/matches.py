"""Matches (subscriber, paper, evidence) in the database, and which message carries each one on each channel.

A match is stored once; `match_deliveries` links it to the outbox row that
carries it on a channel (at most one per (match, channel)). "Unsent on channel
C" means no link for C. A dropped message deletes its links, so its matches
roll into the next message. `matches.outbox_id` is the old single link: kept
one release for a safe upgrade, never read or written here.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import and_, delete, exists, insert, select
from sqlalchemy.orm import Session

from bot.models import Hit, Match
from bot.store.schema import MatchDeliveryRow, MatchRow

_CHUNK = 500  # ids per IN (...) list: well under every backend's limit on bound parameters
EMAIL = "email"


def save_matches(session: Session, matches: Iterable[Match], now: datetime) -> int:
    """Insert the matches not stored yet, in bulk; returns how many were new."""
    fresh: dict[tuple[int, str], Match] = {}
    for match in matches:
        fresh.setdefault((match.subscriber_id, match.paper_id), match)
    if not fresh:
        return 0
    paper_ids = sorted({paper_id for _, paper_id in fresh})
    for start in range(0, len(paper_ids), _CHUNK):  # a batch's papers are mostly new: few stored pairs to skip
        chunk = paper_ids[start:start + _CHUNK]
        for key in session.execute(select(MatchRow.subscriber_id, MatchRow.paper_id).where(MatchRow.paper_id.in_(chunk))):
            fresh.pop(tuple(key), None)
    rows = [{"subscriber_id": m.subscriber_id, "paper_id": m.paper_id, "score": m.score,
             "interests": list(m.interests), "hits": [[h.term, h.field, h.start, h.end] for h in m.hits],
             "created_at": now} for m in fresh.values()]
    for start in range(0, len(rows), _CHUNK * 10):
        session.execute(insert(MatchRow), rows[start:start + _CHUNK * 10])  # executemany: no ORM object per row
    return len(rows)


def to_match(row: MatchRow) -> Match:
    hits = tuple(Hit(term=t, field=f, start=s, end=e) for t, f, s, e in row.hits)
    return Match(row.subscriber_id, row.paper_id, row.score, tuple(row.interests), hits)


def _unsent_on(channel: str):  # type: ignore[no-untyped-def]
    """No message carries the match on `channel`."""
    return ~exists().where(MatchDeliveryRow.match_id == MatchRow.id, MatchDeliveryRow.channel == channel)


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


def attach_many(session: Session, match_ids_by_outbox: dict[int, list[int]], channel: str = EMAIL) -> None:
    """Link many matches to their messages on `channel`: one executemany INSERT."""
    rows = [{"match_id": m, "channel": channel, "outbox_id": o} for o, ids in match_ids_by_outbox.items() for m in ids]
    if rows:
        session.execute(insert(MatchDeliveryRow), rows)


def matches_by_outbox(session: Session, outbox_ids: Iterable[int]) -> dict[int, list[Match]]:
    """The matches each message carries, in one query per 500 (plain columns: no ORM objects to build)."""
    wanted = sorted(set(outbox_ids))
    found: dict[int, list[Match]] = {i: [] for i in wanted}
    columns = (MatchDeliveryRow.outbox_id, MatchRow.subscriber_id, MatchRow.paper_id, MatchRow.score,
               MatchRow.interests, MatchRow.hits)
    for start in range(0, len(wanted), _CHUNK):
        rows = session.execute(select(*columns).join(MatchRow, and_(MatchRow.id == MatchDeliveryRow.match_id))
                               .where(MatchDeliveryRow.outbox_id.in_(wanted[start:start + _CHUNK]))
                               .order_by(MatchRow.id))
        for outbox_id, subscriber_id, paper_id, score, interests, hits in rows:
            found[outbox_id].append(Match(subscriber_id, paper_id, score, tuple(interests),
                                          tuple(Hit(term=t, field=f, start=s, end=e) for t, f, s, e in hits)))
    return found
