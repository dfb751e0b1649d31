"""Retention: prunes what was delivered long ago, and the papers no one needs any more.

The rules (N = PAPERPOST_RETENTION_DAYS, cutoff = now - N days):

- An outbox row is *old and finished* when its state is `sent` or `dropped` and its `sent_at`
  (else `created_at`) is before the cutoff. Queued, sending and failed rows are never pruned
  (a final `failed` row stays for `paperpost outbox --failed`).
- A match goes with the messages that carried it: when it has delivery links and every one of
  them points at an old finished row. A match with one link to such a row and another to a row
  that stays (an old email digest, a Telegram alert still queued) stays, and so does every old
  row that carries it: deleting the row would delete its link (ON DELETE CASCADE) and the match
  would look undelivered on that channel and go out again. That rule spreads (the kept row may
  carry other matches); it is followed to its end per subscriber, since matches and messages
  never cross subscribers.
- A match that no message ever carried goes when it is older than the cutoff and its subscriber
  cannot receive it (paused, unsubscribed or pending, or active with every channel off): months
  later it is no longer news. An active subscriber with a channel on gets their undelivered
  matches in their next message, whatever their age: those stay.
- A paper goes when it was first seen before the cutoff and `_papers_kept` keeps nothing of it
  (no remaining match; messages carry papers only through matches, so that covers "not carried
  by any remaining outbox row"). Its id stays in `paper_tombstones`: a later version of it is a
  known paper (`papers.upsert_papers`), never a new one, and alerts no one.

`prune` does it all in the caller's transaction; `prune_in_chunks` commits per batch of
subscribers and of papers, so a big first prune never holds SQLite's write lock for long.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, and_, delete, func, insert, not_, or_, select
from sqlalchemy.orm import Session

from bot.store.database import Database
from bot.store.schema import (
    MatchDeliveryRow, MatchRow, OutboxRow, PaperRow, PaperSourceRow, PaperTombstoneRow, SubscriberRow,
)

SUBSCRIBER_BATCH = 200  # subscribers whose messages and matches are pruned in one transaction
PAPER_BATCH = 500  # papers deleted (and tombstoned) in one transaction; also under SQLite's bound-parameter limit
_IN_CHUNK = 500


@dataclass(frozen=True)
class PruneReport:
    outbox: int = 0  # sent and dropped messages deleted
    matches: int = 0  # matches deleted (delivered, or never deliverable)
    papers: int = 0  # papers deleted, each leaving a tombstone

    def __add__(self, other: PruneReport) -> PruneReport:
        return PruneReport(self.outbox + other.outbox, self.matches + other.matches, self.papers + other.papers)


def cutoff_of(now: datetime, retention_days: int) -> datetime:
    if retention_days < 1:
        raise ValueError("retention_days must be at least 1")
    return now - timedelta(days=retention_days)


def prune(session: Session, now: datetime, retention_days: int) -> PruneReport:
    """Delete old delivered messages, their matches and unneeded papers (tombstoned), in this transaction."""
    cutoff = cutoff_of(now, retention_days)
    report = PruneReport()
    after = 0
    while batch := subscriber_batch(session, after, SUBSCRIBER_BATCH):
        report += prune_deliveries(session, cutoff, batch)
        after = batch[-1]
    while papers := prune_papers(session, now, cutoff, PAPER_BATCH):
        report += PruneReport(papers=papers)
    return report


def prune_in_chunks(db: Database, now: datetime, retention_days: int, *, subscriber_batch_size: int = SUBSCRIBER_BATCH,
                    paper_batch_size: int = PAPER_BATCH) -> PruneReport:
    """`prune`, committed per batch of subscribers and per batch of papers."""
    cutoff = cutoff_of(now, retention_days)
    report = PruneReport()
    after = 0
    while True:
        with db.session() as session:
            batch = subscriber_batch(session, after, subscriber_batch_size)
            if not batch:
                break
            report += prune_deliveries(session, cutoff, batch)
        after = batch[-1]
    while True:
        with db.session() as session:
            papers = prune_papers(session, now, cutoff, paper_batch_size)
        report += PruneReport(papers=papers)
        if papers < paper_batch_size:
            return report


def subscriber_batch(session: Session, after: int, size: int) -> list[int]:
    """The next `size` subscriber ids above `after` (the cursor of a chunked prune)."""
    return list(session.scalars(select(SubscriberRow.id).where(SubscriberRow.id > after)
                                .order_by(SubscriberRow.id).limit(size)))


def _old_finished(cutoff: datetime):  # type: ignore[no-untyped-def]
    return and_(OutboxRow.state.in_(("sent", "dropped")), func.coalesce(OutboxRow.sent_at, OutboxRow.created_at) < cutoff)


def prune_deliveries(session: Session, cutoff: datetime, subscriber_ids: Sequence[int]) -> PruneReport:
    """For these subscribers: delete old finished messages and the matches they carried (see the module rules)."""
    ids = list(subscriber_ids)
    prunable = set(session.scalars(select(OutboxRow.id).where(OutboxRow.subscriber_id.in_(ids), _old_finished(cutoff))))
    links: dict[int, set[int]] = defaultdict(set)  # match id -> the outbox rows that carry it
    for match_id, outbox_id in session.execute(
            select(MatchDeliveryRow.match_id, MatchDeliveryRow.outbox_id)
            .join(MatchRow, MatchRow.id == MatchDeliveryRow.match_id).where(MatchRow.subscriber_id.in_(ids))):
        links[match_id].add(outbox_id)
    carried: dict[int, set[int]] = defaultdict(set)  # outbox row -> its matches
    for match_id, rows in links.items():
        for outbox_id in rows:
            carried[outbox_id].add(match_id)
    # A match kept (one of its rows stays) keeps every row carrying it; follow that until nothing changes.
    kept = [m for m, rows in links.items() if not rows <= prunable]
    while kept:
        match_id = kept.pop()
        for outbox_id in links[match_id] & prunable:
            prunable.discard(outbox_id)
            kept.extend(m for m in carried[outbox_id] if links[m] <= prunable | {outbox_id})
    delivered = [m for m, rows in links.items() if rows <= prunable]
    undeliverable = list(session.scalars(
        select(MatchRow.id).join(SubscriberRow, SubscriberRow.id == MatchRow.subscriber_id)
        .where(MatchRow.subscriber_id.in_(ids), MatchRow.created_at < cutoff, _unreachable(),
               not_(select(MatchDeliveryRow.match_id).where(MatchDeliveryRow.match_id == MatchRow.id).exists()))))
    gone_matches = sorted(set(delivered) | set(undeliverable))
    # Links first, then matches, then messages: nothing relies on the database's cascades.
    for chunk in _chunks(gone_matches):
        session.execute(delete(MatchDeliveryRow).where(MatchDeliveryRow.match_id.in_(chunk)))
        session.execute(delete(MatchRow).where(MatchRow.id.in_(chunk)))
    for chunk in _chunks(sorted(prunable)):
        session.execute(delete(MatchDeliveryRow).where(MatchDeliveryRow.outbox_id.in_(chunk)))
        session.execute(delete(OutboxRow).where(OutboxRow.id.in_(chunk)))
    return PruneReport(outbox=len(prunable), matches=len(gone_matches))


def _unreachable():  # type: ignore[no-untyped-def]
    """Subscribers who cannot receive a match now: not active, or no channel of theirs on."""
    email_on = and_(SubscriberRow.email.is_not(None), SubscriberRow.email_state == "on")
    telegram_on = and_(SubscriberRow.telegram_chat_id.is_not(None), SubscriberRow.telegram_state == "on")
    return or_(SubscriberRow.status != "active", not_(or_(email_on, telegram_on)))


def _papers_kept() -> Select[tuple[str]]:
    """The ids of papers that must stay whatever their age: the one place where "someone needs it" is decided.

    Today: a paper with a remaining match (and so any message carrying it). Issue 14 adds a votes
    table: a paper someone voted on is kept for good; join it here as
    `.union(select(VoteRow.paper_id))`.
    """
    return select(MatchRow.paper_id)


def prune_papers(session: Session, now: datetime, cutoff: datetime, limit: int) -> int:
    """Delete up to `limit` papers first seen before the cutoff that nothing keeps, leaving a tombstone each."""
    ids = list(session.scalars(select(PaperRow.id).where(PaperRow.first_seen < cutoff, PaperRow.id.not_in(_papers_kept()))
                               .order_by(PaperRow.id).limit(limit)))
    if not ids:
        return 0
    tombstoned = set(session.scalars(select(PaperTombstoneRow.id).where(PaperTombstoneRow.id.in_(ids))))
    fresh = [{"id": paper_id, "pruned_at": now} for paper_id in ids if paper_id not in tombstoned]
    if fresh:
        session.execute(insert(PaperTombstoneRow), fresh)
    session.execute(delete(PaperSourceRow).where(PaperSourceRow.paper_id.in_(ids)))
    session.execute(delete(PaperRow).where(PaperRow.id.in_(ids)))
    return len(ids)


def _chunks(values: Sequence, size: int = _IN_CHUNK):  # type: ignore[no-untyped-def,type-arg]
    for start in range(0, len(values), size):
        yield values[start:start + size]
