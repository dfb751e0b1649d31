"""Sending: claim outbox rows, compose each message, hand it to the mailer, record the result."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from bot.composer import Envelope, build_email
from bot.config import Config
from bot.delivery import Mailer
from bot.digest import Digest, DigestLinks, assemble_digest
from bot.errors import DeliveryError
from bot.models import Subscriber
from bot.rendering import Renderer
from bot.store import Database, matches, outbox, papers, subscribers
from bot.store.outbox import OutboxItem
from bot.tokens import Tokens

MAX_ATTEMPTS = 8
RETRY_BASE = timedelta(minutes=2)
LEASE_SECONDS = 300


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
    failed: int = 0
    dropped: int = 0


def digest_links(ctx: MailContext, subscriber_id: int, email: str) -> DigestLinks:
    return DigestLinks(manage=ctx.link("manage", subscriber_id, email),
                       unsubscribe=ctx.link("unsubscribe", subscriber_id, email),
                       view=ctx.link("digest", subscriber_id, email))


def load_digest(session: Session, item: OutboxItem, ctx: MailContext) -> Digest | None:
    """The digest an outbox row carries, rebuilt from its stored matches (the same on every attempt)."""
    person = subscribers.get_subscriber(session, item.subscriber_id)
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
    digest = load_digest(session, item, ctx)
    if digest is None or (not digest.items and not person.send_empty):
        return None
    text, html = ctx.renderer.render_email("digest", digest=digest)
    return build_email(outbox_id=item.id, kind=item.kind, mail_from=ctx.config["PAPERPOST_MAIL_FROM"],
                       to=person.email, subject=digest.subject, text=text, html=html, date=ctx.clock(),
                       headers=list_headers(ctx, digest.links.unsubscribe))


def send_pending(db: Database, mailer: Mailer, ctx: MailContext, composers: Mapping[str, Composer], *,
                 only_subscriber: int | None = None, batch: int = 100,
                 on_progress: Callable[[OutboxItem, str], None] | None = None) -> SendReport:
    """Deliver every deliverable email row; each row ends sent, failed (with a retry time) or dropped."""
    sent = failed = dropped = 0
    while True:
        with db.session() as session:
            claimed = outbox.claim(session, ctx.clock(), lease_seconds=LEASE_SECONDS, limit=batch,
                                   only_subscriber=only_subscriber)
        if not claimed:
            break
        for item in claimed:
            result = _deliver(db, mailer, ctx, composers, item)
            sent += result == "sent"
            failed += result == "failed"
            dropped += result == "dropped"
            if on_progress:
                on_progress(item, result)
        if len(claimed) < batch:
            break
    return SendReport(sent, failed, dropped)


def _deliver(db: Database, mailer: Mailer, ctx: MailContext, composers: Mapping[str, Composer], item: OutboxItem) -> str:
    with db.session() as session:
        compose = composers.get(item.kind)
        envelope = compose(session, item, ctx) if compose else None
        if envelope is None:
            outbox.mark_dropped(session, item.id, "nothing to send any more" if compose else f"no composer for {item.kind!r}")
            matches.release_from_outbox(session, item.id)  # a dropped digest's matches roll into the next one
            return "dropped"
    try:
        mailer.send(envelope)
    except DeliveryError as exc:
        with db.session() as session:
            final = exc.permanent or item.attempts >= MAX_ATTEMPTS
            retry_at = None if final else ctx.clock() + RETRY_BASE * (2 ** (item.attempts - 1))
            outbox.mark_failed(session, item.id, str(exc), retry_at)
        return "failed"
    with db.session() as session:
        outbox.mark_sent(session, item.id, ctx.clock(), envelope.subject)
    return "sent"

