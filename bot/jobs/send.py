"""Sending: claim outbox rows, compose each message, hand it to the mailer, record the result.

Each sending thread owns one SMTP connection and takes one row at a time
through compose -> send -> record, committing the row's result before it takes
the next one: a crash can leave at most one accepted-but-unrecorded message per
connection (the documented window, docs/delivery.md). What a claim's digests
need is loaded once per claim (bot/sending/digests.py), so composing in the
threads touches no database.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from bot.channels.email.mime import Envelope
from bot.config import Config
from bot.channels.email import Mailer
from bot.errors import DeliveryError, ServerUnavailable
from bot.jobs.plan import drop_stale_digests
from bot.channels.email.digest_mail import (
    BatchComposer,
    Composer,
    DigestBatch,
    DigestComposer,
    MailContext,
    RowComposer,
    compose_digest,
    digest_links,
    list_headers,
    load_digest,
    preview_digest,
)
from bot.store import Database, matches, outbox, subscribers
from bot.store.outbox import OutboxItem

__all__ = ["BatchComposer", "Composer", "DeliveryPolicy", "DigestBatch", "DigestComposer", "MailContext", "RowComposer",
           "SendReport", "compose_digest", "digest_links", "list_headers", "load_digest", "preview_digest",
           "send_pending"]

MAX_ATTEMPTS = 8
RETRY_BASE = timedelta(minutes=2)
RETRY_CAP = timedelta(hours=6)
LEASE_SECONDS = 300


@dataclass(frozen=True)
class DeliveryPolicy:
    """How send_pending retries, gives up, and how many threads it sends from."""

    workers: int = 1
    max_attempts: int = MAX_ATTEMPTS
    retry_base: timedelta = RETRY_BASE
    lease_seconds: int = LEASE_SECONDS
    bounce_limit: int = 3
    stale_after: timedelta = timedelta(hours=36)

    @classmethod
    def from_config(cls, config: Config, *, workers: int = 1) -> DeliveryPolicy:
        return cls(workers=max(1, workers), bounce_limit=config["PAPERPOST_BOUNCE_LIMIT"],
                   stale_after=timedelta(hours=config["PAPERPOST_STALE_HOURS"]))

    def retry_at(self, now: datetime, attempts: int) -> datetime | None:
        """When to try again after `attempts` tries (doubling, capped), or None: give up."""
        if attempts >= self.max_attempts:
            return None
        return now + min(self.retry_base * (2 ** max(0, attempts - 1)), RETRY_CAP)


@dataclass(frozen=True)
class SendReport:
    sent: int = 0
    failed: int = 0  # includes `bounced`
    dropped: int = 0
    deferred: int = 0  # claimed, then given back unsent (server unreachable, or a shutdown)
    bounced: int = 0  # permanent failures: counted against the address


def send_pending(db: Database, mailer: Mailer, ctx: MailContext, composers: Mapping[str, Composer], *,
                 only_subscriber: int | None = None, batch: int = 100,
                 on_progress: Callable[[OutboxItem, str], None] | None = None,
                 should_stop: Callable[[], bool] | None = None,
                 policy: DeliveryPolicy | None = None) -> SendReport:
    """Deliver every deliverable email row; each row ends sent, failed (with a retry time), dropped or queued again.

    Rows are claimed in batches with a lease and sent by `policy.workers` threads
    (one SMTP connection each). A thread records each row's result before it
    sends its next message. When `should_stop()` turns true (a shutdown) or the
    server cannot be reached, the rows claimed but not sent are released untouched.
    """
    policy = policy or DeliveryPolicy.from_config(ctx.config, workers=getattr(mailer, "parallelism", 1))
    stop = threading.Event()
    counts: Counter[str] = Counter()
    with db.session() as session:
        counts["dropped"] += drop_stale_digests(session, ctx.clock(), policy.stale_after)
    rows = _Rows(db, ctx, policy)

    def stopping() -> bool:
        return stop.is_set() or (should_stop is not None and should_stop())

    def deliver(task: tuple[OutboxItem, RowComposer]) -> str:
        """One row from claim to recorded result, in a sending thread."""
        item, compose = task
        if stopping():
            return rows.release(item)
        try:
            envelope = compose(item)
        except Exception as exc:  # noqa: BLE001 - a bug in one message must not stop the others; it is recorded
            return rows.failed(item, DeliveryError(f"could not compose: {exc.__class__.__name__}: {exc}"))
        if envelope is None:
            return rows.dropped(item, "nothing to send any more" if item.kind in composers
                                else f"no composer for {item.kind!r}")
        if stopping():
            return rows.release(item)
        try:
            mailer.send(envelope)
        except ServerUnavailable as exc:
            stop.set()
            return rows.release(item, str(exc))
        except DeliveryError as exc:
            return rows.failed(item, exc)
        # Until this commit the crash window is open: the server has the message (docs/delivery.md).
        return rows.sent(item, envelope)

    with ThreadPoolExecutor(max_workers=policy.workers, thread_name_prefix="send") as pool:
        while not stopping():
            with rows.lock, db.session() as session:
                claimed = outbox.claim(session, ctx.clock(), lease_seconds=policy.lease_seconds, limit=batch,
                                       only_subscriber=only_subscriber)
                tasks = _prepare(session, claimed, composers, ctx, rows)
            if not claimed:
                break
            # map() hands each thread its next row only once it returned the previous one (recorded).
            for (item, _), result in zip(tasks, pool.map(deliver, tasks)):
                counts[result] += 1
                if on_progress:
                    on_progress(item, result)
            if len(claimed) < batch:
                break
    return SendReport(counts["sent"], counts["failed"] + counts["bounced"], counts["dropped"],
                      deferred=counts["deferred"], bounced=counts["bounced"])


def _prepare(session: Session, claimed: list[OutboxItem], composers: Mapping[str, Composer], ctx: MailContext,
             rows: _Rows) -> list[tuple[OutboxItem, RowComposer]]:
    """A row composer per claimed row: batch composers load their rows at once, others get a session per row."""
    by_kind: dict[str, RowComposer] = {}
    for kind in {item.kind for item in claimed}:
        composer = composers.get(kind)
        if composer is None:
            by_kind[kind] = _no_composer
        elif hasattr(composer, "prepare"):
            by_kind[kind] = composer.prepare(session, [i for i in claimed if i.kind == kind], ctx)  # type: ignore[union-attr, arg-type]
        else:
            by_kind[kind] = rows.with_session(composer)
    return [(item, by_kind[item.kind]) for item in claimed]


def _no_composer(item: OutboxItem) -> Envelope | None:
    return None  # dropped: nothing in this process can write it


class _Rows:
    """Records each row's result in its own short transaction, from any sending thread.

    SQLite has one writer at a time and its busy handler sleeps in steps of
    milliseconds, so on SQLite the threads take turns through one lock (a
    commit is well under a millisecond); PostgreSQL needs no such lock.
    """

    def __init__(self, db: Database, ctx: MailContext, policy: DeliveryPolicy):
        self.db, self.ctx, self.policy = db, ctx, policy
        self.lock: AbstractContextManager[object] = threading.Lock() if db.is_sqlite else nullcontext()

    def with_session(self, compose: Composer) -> RowComposer:
        def compose_row(item: OutboxItem) -> Envelope | None:
            with self.lock, self.db.session() as session:
                return compose(session, item, self.ctx)
        return compose_row

    def sent(self, item: OutboxItem, envelope: Envelope) -> str:
        with self.lock, self.db.session() as session:
            outbox.mark_sent(session, item.id, self.ctx.clock(), envelope.subject)
            subscribers.clear_bounces(session, item.subscriber_id)
        return "sent"

    def release(self, item: OutboxItem, error: str | None = None) -> str:
        """Nothing was sent: the row waits, queued (with the reason when the server is unavailable)."""
        with self.lock, self.db.session() as session:
            outbox.release(session, [item.id])
            if error:
                outbox.note_error(session, item.id, error)
        return "deferred"

    def dropped(self, item: OutboxItem, reason: str) -> str:
        with self.lock, self.db.session() as session:
            outbox.mark_dropped(session, item.id, reason)
            matches.release_from_outbox(session, item.id)  # a dropped digest's matches roll into the next one
        return "dropped"

    def failed(self, item: OutboxItem, error: DeliveryError) -> str:
        with self.lock, self.db.session() as session:
            outbox.mark_failed(session, item.id, str(error),
                               None if error.permanent else self.policy.retry_at(self.ctx.clock(), item.attempts))
            if error.permanent and item.channel == "email":
                subscribers.record_bounce(session, item.subscriber_id, self.policy.bounce_limit)
                return "bounced"
        return "failed"
