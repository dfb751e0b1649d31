"""Sending: claim outbox rows, compose each message, hand it to the mailer, record the result."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from bot.composer import Envelope, build_email
from bot.config import Config
from bot.delivery import Mailer
from bot.digest import Digest, DigestLinks, assemble_digest
from bot.errors import DeliveryError, ServerUnavailable
from bot.models import Subscriber
from bot.planning import drop_stale_digests
from bot.rendering import Renderer
from bot.store import Database, matches, outbox, papers, subscribers
from bot.store.outbox import OutboxItem
from bot.tokens import Tokens

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
    def from_config(cls, config: Config, *, workers: int = 1) -> "DeliveryPolicy":
        return cls(workers=max(1, workers), bounce_limit=config["PAPERPOST_BOUNCE_LIMIT"],
                   stale_after=timedelta(hours=config["PAPERPOST_STALE_HOURS"]))

    def retry_at(self, now: datetime, attempts: int) -> datetime | None:
        """When to try again after `attempts` tries (doubling, capped), or None: give up."""
        if attempts >= self.max_attempts:
            return None
        return now + min(self.retry_base * (2 ** max(0, attempts - 1)), RETRY_CAP)


@dataclass(frozen=True)
class MailContext:
    """What composing a message needs: settings, templates, link signing, the clock."""

    config: Config
    renderer: Renderer
    tokens: Tokens
    clock: Callable[[], datetime]

    def link(self, purpose: str, subscriber_id: int, email: str) -> str:
        return f"{self.config.base_url}/{purpose}/{self.tokens.make(purpose, subscriber_id, email)}"  # type: ignore[arg-type]


# A composer turns a claimed row into an Envelope, or None when the row must not be sent any more.
Composer = Callable[[Session, OutboxItem, MailContext], Envelope | None]


@dataclass(frozen=True)
class SendReport:
    sent: int = 0
    failed: int = 0  # includes `bounced`
    dropped: int = 0
    deferred: int = 0  # claimed, then given back unsent (server unreachable, or a shutdown)
    bounced: int = 0  # permanent failures: counted against the address


def digest_links(ctx: MailContext, subscriber_id: int, email: str) -> DigestLinks:
    return DigestLinks(manage=ctx.link("manage", subscriber_id, email),
                       unsubscribe=ctx.link("unsubscribe", subscriber_id, email),
                       view=ctx.link("digest", subscriber_id, email))


def load_digest(session: Session, item: OutboxItem, ctx: MailContext, person: Subscriber | None = None) -> Digest | None:
    """The digest an outbox row carries, rebuilt from its stored matches (the same on every attempt)."""
    person = person or subscribers.get_subscriber(session, item.subscriber_id)
    if person is None:
        return None
    carried = matches.matches_of_outbox(session, item.id)
    found = papers.papers_by_id(session, [m.paper_id for m in carried])
    return assemble_digest(person, carried, found, period=item.period, cap=ctx.config["PAPERPOST_DIGEST_MAX"],
                           links=digest_links(ctx, person.id, person.email),
                           postal_address=ctx.config["PAPERPOST_POSTAL_ADDRESS"])


def preview_digest(session: Session, person: Subscriber, period: str, ctx: MailContext) -> Digest:
    """The digest `person` would get now from their unsent matches (nothing is written)."""
    pending = matches.unsent_matches(session, person.id)
    found = papers.papers_by_id(session, [m.paper_id for m in pending])
    return assemble_digest(person, pending, found, period=period, cap=ctx.config["PAPERPOST_DIGEST_MAX"],
                           links=digest_links(ctx, person.id, person.email),
                           postal_address=ctx.config["PAPERPOST_POSTAL_ADDRESS"])


def list_headers(ctx: MailContext, unsubscribe_url: str) -> dict[str, str]:
    """List-Id and one-click unsubscribe headers (RFC 2369, RFC 8058)."""
    domain = ctx.config["PAPERPOST_MAIL_FROM"].rpartition("@")[2].strip("> ") or "paperpost.localhost"
    targets = [f"<{unsubscribe_url}>"]
    if ctx.config["PAPERPOST_UNSUBSCRIBE_MAILTO"]:
        targets.append(f"<mailto:{ctx.config['PAPERPOST_UNSUBSCRIBE_MAILTO']}?subject=unsubscribe>")
    return {"List-Id": f"paperpost digests <digest.{domain}>", "List-Unsubscribe": ", ".join(targets),
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


def compose_digest(session: Session, item: OutboxItem, ctx: MailContext) -> Envelope | None:
    person = subscribers.get_subscriber(session, item.subscriber_id)
    if person is None or person.status != "active":
        return None  # left or paused since the digest was planned
    digest = load_digest(session, item, ctx, person)
    if digest is None or (not digest.items and not person.send_empty):
        return None
    text, html = ctx.renderer.render_email("digest", digest=digest)
    return build_email(outbox_id=item.id, kind=item.kind, mail_from=ctx.config["PAPERPOST_MAIL_FROM"],
                       to=person.email, subject=digest.subject, text=text, html=html, date=ctx.clock(),
                       headers=list_headers(ctx, digest.links.unsubscribe))


def send_pending(db: Database, mailer: Mailer, ctx: MailContext, composers: Mapping[str, Composer], *,
                 only_subscriber: int | None = None, batch: int = 100,
                 on_progress: Callable[[OutboxItem, str], None] | None = None,
                 should_stop: Callable[[], bool] | None = None,
                 policy: DeliveryPolicy | None = None) -> SendReport:
    """Deliver every deliverable email row; each row ends sent, failed (with a retry time), dropped or queued again.

    Rows are claimed in batches with a lease and sent by `policy.workers` threads
    (one SMTP connection each); every row's result is committed as soon as it is
    known, so a crash loses at most the rows in flight, which the lease hands to
    the next run. When `should_stop()` turns true (a shutdown) or the server
    cannot be reached, the rows claimed but not sent are released untouched.
    """
    policy = policy or DeliveryPolicy.from_config(ctx.config, workers=getattr(mailer, "parallelism", 1))
    stop = threading.Event()
    counts: Counter[str] = Counter()
    with db.session() as session:
        counts["dropped"] += drop_stale_digests(session, ctx.clock(), policy.stale_after)

    def transmit(prepared: tuple[OutboxItem, Envelope | str]) -> str | DeliveryError:
        """Only the SMTP exchange runs in the threads: the database stays in this one (SQLite locks)."""
        item, envelope = prepared
        if isinstance(envelope, str):
            return envelope  # dropped or failed while composing
        if stop.is_set() or (should_stop is not None and should_stop()):
            return "skipped"
        try:
            mailer.send(envelope)
        except DeliveryError as exc:
            if isinstance(exc, ServerUnavailable):
                stop.set()
            return exc
        return "sent"

    with ThreadPoolExecutor(max_workers=policy.workers, thread_name_prefix="send") as pool:
        while not stop.is_set() and not (should_stop is not None and should_stop()):
            with db.session() as session:
                claimed = outbox.claim(session, ctx.clock(), lease_seconds=policy.lease_seconds, limit=batch,
                                       only_subscriber=only_subscriber)
            if not claimed:
                break
            prepared = [(item, _compose(db, ctx, composers, item, policy)) for item in claimed]
            # map() keeps the claim order; each result is committed here as soon as it is known.
            for (item, envelope), outcome in zip(prepared, pool.map(transmit, prepared)):
                result = _record(db, ctx, item, envelope, outcome, policy)
                counts[result] += 1
                if on_progress:
                    on_progress(item, result)
            if len(claimed) < batch:
                break
    return SendReport(counts["sent"], counts["failed"] + counts["bounced"], counts["dropped"],
                      deferred=counts["deferred"], bounced=counts["bounced"])


def _compose(db: Database, ctx: MailContext, composers: Mapping[str, Composer], item: OutboxItem,
             policy: DeliveryPolicy) -> Envelope | str:
    """The envelope for a claimed row, or the row's final word ("dropped", "failed") already recorded."""
    try:
        with db.session() as session:
            compose = composers.get(item.kind)
            envelope = compose(session, item, ctx) if compose else None
            if envelope is None:
                outbox.mark_dropped(session, item.id, "nothing to send any more" if compose else f"no composer for {item.kind!r}")
                matches.release_from_outbox(session, item.id)  # a dropped digest's matches roll into the next one
                return "dropped"
            return envelope
    except Exception as exc:  # noqa: BLE001 - a bug in one message must not stop the others; it is recorded
        with db.session() as session:
            outbox.mark_failed(session, item.id, f"could not compose: {exc.__class__.__name__}: {exc}",
                               policy.retry_at(ctx.clock(), item.attempts))
        return "failed"


def _record(db: Database, ctx: MailContext, item: OutboxItem, envelope: Envelope | str, outcome: str | DeliveryError,
            policy: DeliveryPolicy) -> str:
    """Commit what happened to one row; returns sent, failed, bounced, dropped or deferred."""
    if isinstance(envelope, str):
        return envelope
    with db.session() as session:
        if outcome == "sent":
            # Until this commit the crash window is open: the server has the message (docs/delivery.md).
            outbox.mark_sent(session, item.id, ctx.clock(), envelope.subject)
            subscribers.clear_bounces(session, item.subscriber_id)
            return "sent"
        if outcome == "skipped" or isinstance(outcome, ServerUnavailable):
            outbox.release(session, [item.id])  # nothing was sent: the row waits, queued
            if isinstance(outcome, ServerUnavailable):
                outbox.note_error(session, item.id, str(outcome))
            return "deferred"
        assert isinstance(outcome, DeliveryError)
        outbox.mark_failed(session, item.id, str(outcome),
                           None if outcome.permanent else policy.retry_at(ctx.clock(), item.attempts))
        if outcome.permanent and item.channel == "email":
            subscribers.record_bounce(session, item.subscriber_id, policy.bounce_limit)
            return "bounced"
        return "failed"
