"""The rows one owner holds while it sends them: fenced result writes, and the thread that renews their leases.

Each result is written in its own short transaction, from any sending thread,
and only while the row is still this owner's claim (bot/store/outbox.py fences
every write). A write that finds the row taken over changes nothing and is
logged as `send.fenced`: another owner has it now, and its result stands.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from contextlib import AbstractContextManager, nullcontext
from datetime import timedelta
from typing import TYPE_CHECKING

from bot.channels.channel import Channel, Composer, RowComposer
from bot.channels.context import MailContext
from bot.channels.outcomes import Outcome
from bot.logs import log_event
from bot.store import Database, matches, outbox, subscribers
from bot.store.outbox import OutboxItem

if TYPE_CHECKING:
    from bot.jobs.send import DeliveryPolicy


class Recorder:
    """Records each row's result for one owner; counts what it could not write (`fenced`) and channels turned off.

    SQLite has one writer at a time and its busy handler sleeps in steps of
    milliseconds, so on SQLite the threads take turns through one lock (a
    commit is well under a millisecond); PostgreSQL needs no such lock.
    """

    def __init__(self, db: Database, ctx: MailContext, policy: DeliveryPolicy, owner_id: int):
        self.db, self.ctx, self.policy, self.owner_id = db, ctx, policy, owner_id
        self.lock: AbstractContextManager[object] = threading.Lock() if db.is_sqlite else nullcontext()
        self.extra: Counter[str] = Counter()  # fenced writes, channels turned off
        self._counting = threading.Lock()

    def with_session(self, compose: Composer) -> RowComposer:
        def compose_row(item: OutboxItem) -> object:
            with self.lock, self.db.session() as session:
                return compose(session, item, self.ctx)
        return compose_row

    def sent(self, channel: Channel, item: OutboxItem, subject: str | None) -> str:
        with self.lock, self.db.session() as session:
            if not outbox.mark_sent(session, item.id, self.owner_id, self.ctx.clock(), subject):
                return self._fenced(item, "sent")
            if channel.after_sent is not None:
                channel.after_sent(session, item)
        return "sent"

    def release(self, item: OutboxItem, error: str | None = None) -> str:
        """Nothing was sent: the row waits, queued (with the reason when the channel is unavailable)."""
        with self.lock, self.db.session() as session:
            if not outbox.release(session, item.id, self.owner_id, error):
                return self._fenced(item, "deferred")
        return "deferred"

    def dropped(self, item: OutboxItem, reason: str) -> str:
        with self.lock, self.db.session() as session:
            if not outbox.mark_dropped(session, item.id, self.owner_id, reason):
                return self._fenced(item, "dropped")
            matches.release_from_outbox(session, item.id)  # a dropped message's matches roll into the next one
        return "dropped"

    def failed(self, channel: Channel, item: OutboxItem, outcome: Outcome) -> str:
        """retry_after, permanent or recipient_gone: the row's next state, and the channel's bookkeeping."""
        now = self.ctx.clock()
        if outcome.kind == "retry_after":
            retry_at = self.policy.retry_at(now, item.attempts)
            if retry_at is not None and outcome.seconds is not None:
                retry_at = now + timedelta(seconds=outcome.seconds)
            with self.lock, self.db.session() as session:
                if not outbox.mark_failed(session, item.id, self.owner_id, outcome.reason, retry_at):
                    return self._fenced(item, "failed")
            return "failed"
        with self.lock, self.db.session() as session:
            if not outbox.mark_failed(session, item.id, self.owner_id, outcome.reason, None):
                return self._fenced(item, "failed")
            result = "gone" if outcome.kind == "recipient_gone" else "bounced"
            if outcome.kind == "permanent" and channel.after_permanent is not None:
                outcome = channel.after_permanent(session, item, outcome)
            if outcome.kind == "recipient_gone":
                subscribers.set_channel_state(session, item.subscriber_id, channel.name, False, outcome.reason)
                self._count("turned_off")
                log_event("send.channel_off", level=logging.WARNING, subscriber=item.subscriber_id,
                          channel=channel.name, reason=outcome.reason)
        return result

    def unsendable(self, item: OutboxItem, reason: str) -> str:
        """The message cannot be written (composing it raised): failed for good, not retried, and not held
        against the address (no channel hook); `paperpost outbox --failed` shows why."""
        with self.lock, self.db.session() as session:
            if not outbox.mark_failed(session, item.id, self.owner_id, reason, None):
                return self._fenced(item, "failed")
        return "failed"

    def _fenced(self, item: OutboxItem, wanted: str) -> str:
        self._count("fenced")
        log_event("send.fenced", level=logging.WARNING, outbox=item.id, owner=self.owner_id, wanted=wanted,
                  note="the row was taken over by another sender; its result stands, ours is not written")
        return "fenced"

    def _count(self, what: str) -> None:
        with self._counting:
            self.extra[what] += 1


class LeaseRenewer:
    """A thread that extends the leases of every row `owner_id` holds, every lease/3 s, until `stop()`."""

    def __init__(self, recorder: Recorder, lease_seconds: int):
        self.recorder, self.lease_seconds = recorder, lease_seconds
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lease-renewer", daemon=True)

    def __enter__(self) -> LeaseRenewer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopped.set()
        self._thread.join()

    def renew_now(self) -> int:
        rec = self.recorder
        with rec.lock, rec.db.session() as session:
            return outbox.renew(session, rec.owner_id, rec.ctx.clock(), self.lease_seconds)

    def _run(self) -> None:
        while not self._stopped.wait(self.lease_seconds / 3):
            try:
                self.renew_now()
            except Exception as exc:  # noqa: BLE001 - one failed renewal is retried; a lease outlives two misses
                log_event("send.renew_error", level=logging.WARNING, owner=self.recorder.owner_id,
                          error=f"{exc.__class__.__name__}: {exc}")

