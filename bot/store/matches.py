"""Matches (subscriber, paper, evidence) in the database; each pair is stored once."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from bot.models import Hit, Match
from bot.store.schema import MatchRow

_CHUNK = 500  # ids per IN (...) list: well under every backend's limit on bound parameters


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


def unsent_match_ids(session: Session, subscriber_id: int) -> list[int]:
    """Matches of a subscriber that no digest has carried yet."""
    return list(session.scalars(select(MatchRow.id).where(
        MatchRow.subscriber_id == subscriber_id, MatchRow.outbox_id.is_(None)
    ).order_by(MatchRow.id)))


def unsent_matches(session: Session, subscriber_id: int) -> list[Match]:
    rows = session.scalars(select(MatchRow).where(MatchRow.subscriber_id == subscriber_id, MatchRow.outbox_id.is_(None)))
    return [to_match(row) for row in rows]


def attach_to_outbox(session: Session, match_ids: list[int], outbox_id: int | None) -> None:
    """Give matches to a digest (or back to the pool with None, when a digest is dropped)."""
    for row in session.scalars(select(MatchRow).where(MatchRow.id.in_(match_ids))):
        row.outbox_id = outbox_id


def matches_of_outbox(session: Session, outbox_id: int) -> list[Match]:
    return [to_match(row) for row in session.scalars(select(MatchRow).where(MatchRow.outbox_id == outbox_id))]


def drop_unsent(session: Session, subscriber_ids: list[int]) -> None:
    """Forget the matches no digest has carried yet (the profile they came from changed)."""
    session.execute(delete(MatchRow).where(MatchRow.subscriber_id.in_(subscriber_ids), MatchRow.outbox_id.is_(None)))


def release_from_outbox(session: Session, outbox_id: int) -> None:
    """Give a dropped digest's matches back to the pool for the next digest."""
    session.execute(update(MatchRow).where(MatchRow.outbox_id == outbox_id).values(outbox_id=None))


def unsent_match_ids_by_subscriber(session: Session, subscriber_ids: list[int]) -> dict[int, list[int]]:
    """unsent_match_ids for many subscribers in one query (the planner's bulk path)."""
    found: dict[int, list[int]] = {}
    for start in range(0, len(subscriber_ids), 500):  # stay under SQLite's bound-parameter limit
        chunk = subscriber_ids[start:start + 500]
        rows = session.execute(select(MatchRow.subscriber_id, MatchRow.id).where(
            MatchRow.subscriber_id.in_(chunk), MatchRow.outbox_id.is_(None)).order_by(MatchRow.id))
        for subscriber_id, match_id in rows:
            found.setdefault(subscriber_id, []).append(match_id)
    return found


def attach_many(session: Session, match_ids_by_outbox: dict[int, list[int]]) -> None:
    """attach_to_outbox for many digests at once."""
    rows = [{"id": m, "outbox_id": o} for o, ids in match_ids_by_outbox.items() for m in ids]
    if rows:
        session.execute(update(MatchRow), rows)  # ORM bulk UPDATE by primary key: one executemany


def matches_by_outbox(session: Session, outbox_ids: Iterable[int]) -> dict[int, list[Match]]:
    """matches_of_outbox for many digests in one query per 500 (plain columns: no ORM objects to build)."""
    wanted = sorted(set(outbox_ids))
    found: dict[int, list[Match]] = {i: [] for i in wanted}
    columns = (MatchRow.outbox_id, MatchRow.subscriber_id, MatchRow.paper_id, MatchRow.score, MatchRow.interests,
               MatchRow.hits)
    for start in range(0, len(wanted), 500):
        rows = session.execute(select(*columns).where(MatchRow.outbox_id.in_(wanted[start:start + 500]))
                               .order_by(MatchRow.id))
        for outbox_id, subscriber_id, paper_id, score, interests, hits in rows:
            found[outbox_id].append(Match(subscriber_id, paper_id, score, tuple(interests),
                                          tuple(Hit(term=t, field=f, start=s, end=e) for t, f, s, e in hits)))
    return found
