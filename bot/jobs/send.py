"""Sending: claim outbox rows for an owner, compose each message, hand it to its channel's sender, record the outcome.

Each sending thread takes one row at a time through compose -> send -> record,
committing the row's result before it takes the next one: a crash can leave at
most one accepted-but-unrecorded message per connection (the documented window,
docs/delivery.md). Claims carry the owner and a lease that a renewal thread
extends while the owner works; rows of a dead owner are taken back at once.
What a claim's digests need is loaded once per claim (DigestBatch), so
composing in the threads touches no database.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy.orm import Session

from bot.channels.channel import Channel, RowComposer
from bot.channels.context import MailContext
from bot.channels.outcomes import Outcome, retry_after
from bot.config import Config
from bot.jobs.claims import LeaseRenewer, Recorder
from bot.jobs.plan import drop_stale_digests
from bot.logs import log_event
from bot.store import Database, outbox
from bot.store.outbox import OutboxItem

__all__ = ["DeliveryPolicy", "Owner", "SendReport", "send_pending"]

MAX_ATTEMPTS = 8
RETRY_BASE = timedelta(minutes=2)
RETRY_CAP = timedelta(hours=6)
LEASE_SECONDS = 60
# Rows per claim, at most. What a claim's digests need (papers, hits) is loaded once per claim, and a day's
# digests share most of their papers: bigger claims cost less per message (500 is seconds of sending). A pass
# starts with FIRST_CLAIM rows and doubles, so a small outbox is still shared by every sender.
CLAIM_BATCH = 500
FIRST_CLAIM = 25


class Owner(Protocol):
    """Who claims rows: a registered process (bot.jobs.liveness) that can tell which other owners are dead."""

    id: int

    def dead_owners(self) -> Collection[int]: ...


@dataclass(frozen=True)
class DeliveryPolicy:
    """How send_pending retries and gives up, how long a claim is leased, how many threads it sends from."""

    workers: int | None = None  # None: as many as the channel's sender can use at once
    max_attempts: int = MAX_ATTEMPTS
    retry_base: timedelta = RETRY_BASE
    lease_seconds: int = LEASE_SECONDS
    stale_after: timedelta = timedelta(hours=36)

    @classmethod
    def from_config(cls, config: Config, *, workers: int | None = None) -> DeliveryPolicy:
        return cls(workers=workers, stale_after=timedelta(hours=config["PAPERPOST_STALE_HOURS"]))

    def retry_at(self, now: datetime, attempts: int) -> datetime | None:
        """When to try again after `attempts` tries (doubling, capped), or None: give up."""
        if attempts >= self.max_attempts:
            return None
        return now + min(self.retry_base * (2 ** max(0, attempts - 1)), RETRY_CAP)


@dataclass(frozen=True)
class SendReport:
    sent: int = 0
    failed: int = 0  # includes `bounced` and `gone`
    dropped: int = 0
    deferred: int = 0  # claimed, then given back unsent (channel unavailable, or a shutdown)
    bounced: int = 0  # permanent failures (email: counted against the address)
    gone: int = 0  # channels turned off for a subscriber (recipient gone, or the bounce limit reached)
    taken_back: int = 0  # rows a stopped sender had left `sending`, taken over and sent by this run
    held_by_live: int = 0  # rows `sending` under another sender that is alive: not ours to take
    fenced: int = 0  # results not written: the row had been taken over by another sender meanwhile


def send_pending(db: Database, channels: Sequence[Channel], ctx: MailContext, owner: Owner, *,
                 only_subscriber: int | None = None, batch: int = CLAIM_BATCH,
                 on_progress: Callable[[OutboxItem, str], None] | None = None,
                 should_stop: Callable[[], bool] | None = None,
                 policy: DeliveryPolicy | None = None) -> SendReport:
    """Deliver every deliverable row of `channels`; each ends sent, failed (with a retry time), dropped or queued.

    Only the (channel, kind) pairs a channel has a composer for are claimed: other
    rows stay queued for a process that can write them. When `should_stop()` turns
    true (a shutdown) or a channel is unavailable, the rows claimed but not sent
    are handed back untouched.
    """
    policy = policy or DeliveryPolicy.from_config(ctx.config)
    counts: Counter[str] = Counter()
    with db.session() as session:
        counts["dropped"] += drop_stale_digests(session, ctx.clock(), policy.stale_after)
    recorder = Recorder(db, ctx, policy, owner.id)
    with LeaseRenewer(recorder, policy.lease_seconds):
        for channel in channels:
            if should_stop is not None and should_stop():
                break
            if channel.composers:
                _drain(db, channel, ctx, owner, recorder, policy, counts, only_subscriber, batch, on_progress,
                       should_stop)
    with db.session() as session:
        held = outbox.count_held(session, ctx.clock(), owner_id=owner.id, dead_owners=owner.dead_owners(),
                                 only_subscriber=only_subscriber)
    return SendReport(counts["sent"], counts["failed"] + counts["bounced"] + counts["gone"], counts["dropped"],
                      deferred=counts["deferred"], bounced=counts["bounced"], gone=recorder.extra["turned_off"],
                      taken_back=counts["taken_back"], held_by_live=held, fenced=recorder.extra["fenced"])


def _drain(db: Database, channel: Channel, ctx: MailContext, owner: Owner, recorder: Recorder,
           policy: DeliveryPolicy, counts: Counter[str], only_subscriber: int | None, batch: int,
           on_progress: Callable[[OutboxItem, str], None] | None, should_stop: Callable[[], bool] | None) -> None:
    """Claim, send and record one channel's rows until none are left, the channel is unavailable, or a stop."""
    unavailable = threading.Event()

    def stopping() -> bool:
        return unavailable.is_set() or (should_stop is not None and should_stop())

    def deliver(task: tuple[OutboxItem, RowComposer]) -> str:
        """One row from claim to recorded result, in a sending thread."""
        item, compose = task
        if stopping():
            return recorder.release(item)
        try:
            message = compose(item)
        except Exception as exc:  # noqa: BLE001 - a bug in one message must not stop the others; it is recorded
            # The same data gives the same error on every attempt: failed for good, with the reason and a traceback.
            log_event("send.compose_error", level=logging.ERROR, exc_info=True, outbox=item.id, channel=channel.name)
            return recorder.unsendable(item, f"could not compose: {exc.__class__.__name__}: {exc}")
        if message is None:
            return recorder.dropped(item, "nothing to send any more")
        if stopping():
            return recorder.release(item)
        try:
            outcome = channel.sender.send(message)
        except Exception as exc:  # noqa: BLE001 - senders return outcomes; a bug raising is retried on the backoff
            log_event("send.error", level=logging.ERROR, exc_info=True, outbox=item.id, channel=channel.name)
            outcome = retry_after(None, f"the {channel.name} sender failed: {exc.__class__.__name__}: {exc}")
        # Until the result commits the crash window is open: the server has the message (docs/delivery.md).
        return _record(channel, item, message, outcome)

    def _record(channel: Channel, item: OutboxItem, message: object, outcome: Outcome) -> str:
        if outcome.kind == "sent":
            return recorder.sent(channel, item, getattr(message, "subject", None))
        if outcome.kind == "unavailable":
            unavailable.set()
            return recorder.release(item, outcome.reason)
        return recorder.failed(channel, item, outcome)

    def take(size: int) -> tuple[list[OutboxItem], list[tuple[OutboxItem, RowComposer]]]:
        """Claim up to `size` rows (a short write, under the recorder's lock) and load what composing them needs."""
        dead = owner.dead_owners()
        with recorder.lock, db.session() as session:
            # Checked under the lock every release takes: a row handed back in this pass (a stop, the channel
            # down) is never claimed again by the claim running ahead.
            if stopping():
                return [], []
            claimed = outbox.claim(session, ctx.clock(), owner_id=owner.id, kinds=channel.kinds, dead_owners=dead,
                                   lease_seconds=policy.lease_seconds, limit=size, only_subscriber=only_subscriber)
        if not claimed:
            return [], []
        with db.session() as session:  # reads only: the sending threads record meanwhile
            return claimed, _prepare(session, claimed, channel, ctx, recorder)

    workers = max(1, policy.workers or getattr(channel.sender, "parallelism", 1))
    size = min(batch, FIRST_CLAIM)
    # The next claim is taken and loaded while this one is sent: the threads never wait for a claim's loading.
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"send-{channel.name}") as pool, \
            ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"claim-{channel.name}") as ahead:
        upcoming = None if stopping() else ahead.submit(take, size)
        while upcoming is not None:
            claimed, tasks = upcoming.result()
            upcoming = None
            if not claimed:
                break
            if stopping():  # claimed ahead, not to be sent now: handed back untouched
                for item, _ in tasks:
                    counts[recorder.release(item)] += 1
                break
            size = min(batch, size * 2)  # a short claim is not the end: other senders may have taken the rest
            upcoming = ahead.submit(take, size)
            for item in claimed:
                if item.taken_over:
                    counts["taken_back"] += 1
                    log_event("send.recover", level=logging.WARNING, outbox=item.id, to=item.email, kind=item.kind,
                              period=item.period, attempt=item.attempts,
                              note="left `sending` by a sender that stopped; sending it now (if it was in flight, "
                                   "the server may have it already, and it arrives twice)")
            # map() hands each thread its next row only once it returned the previous one (recorded).
            for (item, _), result in zip(tasks, pool.map(deliver, tasks)):
                counts[result] += 1
                if on_progress:
                    on_progress(item, result)


def _prepare(session: Session, claimed: list[OutboxItem], channel: Channel, ctx: MailContext,
             recorder: Recorder) -> list[tuple[OutboxItem, RowComposer]]:
    """A row composer per claimed row: batch composers load their rows at once, others get a session per row."""
    by_kind: dict[str, RowComposer] = {}
    for kind in {item.kind for item in claimed}:
        composer = channel.composers[kind]  # claimed by kind: only kinds this channel composes
        if hasattr(composer, "prepare"):
            by_kind[kind] = composer.prepare(session, [i for i in claimed if i.kind == kind], ctx)
        else:
            by_kind[kind] = recorder.with_session(composer)
    return [(item, by_kind[item.kind]) for item in claimed]
