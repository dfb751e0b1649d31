"""Readers' votes on papers: +1 "more like this", -1 "not for me"; one per (subscriber, paper), changed in place.

The pages, the Telegram buttons and the CLI write them; the reader models (bot/recommend/) read them.
They go with the subscriber (deleted data) and with the paper (retention): foreign keys cascade.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from bot.store.schema import MatchRow, PaperRow, VoteRow

MORE, LESS = 1, -1
_CHUNK = 500  # ids per IN (...) list


class UnknownPaper(LookupError):
    """A vote names a paper that is not stored."""


def set_vote(session: Session, subscriber_id: int, paper_id: str, value: int | None, now: datetime) -> bool:
    """Record `value` (MORE or LESS) for the pair, or remove the vote with None; True when something changed."""
    if value not in (MORE, LESS, None):
        raise ValueError(f"a vote is {MORE}, {LESS} or None, not {value!r}")
    row = session.get(VoteRow, (subscriber_id, paper_id))
    if value is None:
        if row is None:
            return False
        session.delete(row)
        return True
    if row is None:
        if session.get(PaperRow, paper_id) is None:
            raise UnknownPaper(paper_id)
        session.add(VoteRow(subscriber_id=subscriber_id, paper_id=paper_id, value=value, created_at=now,
                            updated_at=now))
        return True
    if row.value == value:
        return False
    row.value, row.updated_at = value, now
    return True


def votes_of(session: Session, subscriber_id: int) -> dict[str, int]:
    """A subscriber's votes by paper id, newest first."""
    rows = session.execute(select(VoteRow.paper_id, VoteRow.value).where(VoteRow.subscriber_id == subscriber_id)
                           .order_by(VoteRow.updated_at.desc(), VoteRow.paper_id))
    return {paper_id: value for paper_id, value in rows}


def vote_on(session: Session, subscriber_id: int, paper_id: str) -> int | None:
    """The subscriber's vote on one paper (MORE, LESS), or None."""
    return session.scalar(select(VoteRow.value).where(VoteRow.subscriber_id == subscriber_id,
                                                      VoteRow.paper_id == paper_id))


def matched_paper_ids(session: Session, subscriber_id: int) -> list[str]:
    """The papers a subscriber was matched with: where a short vote key from a Telegram button is looked up."""
    return list(session.scalars(select(MatchRow.paper_id).where(MatchRow.subscriber_id == subscriber_id).distinct()))


def votes_by_subscriber(session: Session, subscriber_ids: Iterable[int] | None = None) -> dict[int, dict[str, int]]:
    """Votes of many subscribers (all who voted, when `subscriber_ids` is None): {subscriber: {paper: value}}."""
    found: dict[int, dict[str, int]] = {}
    query = select(VoteRow.subscriber_id, VoteRow.paper_id, VoteRow.value).order_by(VoteRow.subscriber_id,
                                                                                      VoteRow.paper_id)
    if subscriber_ids is None:
        chunks = [query]
    else:
        ids = sorted(set(subscriber_ids))
        chunks = [query.where(VoteRow.subscriber_id.in_(ids[i:i + _CHUNK])) for i in range(0, len(ids), _CHUNK)]
    for chunk in chunks:
        for subscriber_id, paper_id, value in session.execute(chunk):
            found.setdefault(subscriber_id, {})[paper_id] = value
    return found


def clear_votes(session: Session, subscriber_id: int) -> None:
    """Forget every vote of a subscriber (they deleted their data but the row stays, e.g. unlinked)."""
    session.execute(delete(VoteRow).where(VoteRow.subscriber_id == subscriber_id))
