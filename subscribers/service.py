"""What a subscriber can do (sign up, confirm, change, pause, leave, delete): the logic behind the pages and Telegram.

Every function takes the Database and the time; none knows about HTTP. Outcomes a
visitor must not learn (is this address known?) are returned for tests and logs,
never shown: the pages answer the same either way.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy.orm import Session

from bot.digest.highlight import why
from bot.jobs.match import current_trending
from bot.logs import log_event
from bot.models import Match, Paper, Subscriber, SubscriberInput
from bot.profile import search
from bot.digest.ranking import rank
from bot.store import Database, matches, outbox, papers, subscribers
from bot.tokens import BadToken, Purpose, Tokens

CONFIRM_COOLDOWN = timedelta(minutes=15)  # at most one confirmation mail per address per this time
TELEGRAM_CODE_TTL = timedelta(minutes=30)
_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: codes are typed by hand

SignUpOutcome = Literal["new", "pending", "returning", "known"]


@dataclass(frozen=True)
class SignUp:
    """What a sign-up did: `mail_queued` is False within the cool-down and for known addresses."""

    subscriber_id: int
    outcome: SignUpOutcome
    mail_queued: bool


def sign_up(db: Database, data: SubscriberInput, now: datetime,
            may_mail: Callable[[Session], bool] | None = None) -> SignUp:
    """Make the address pending (new, or back after leaving) and queue one confirmation mail per cool-down.

    A confirmed address (active or paused) is left exactly as it is: anyone can type
    anyone's address, so a sign-up must never change a confirmed subscriber's profile.
    `may_mail` (in this transaction) is asked only when a mail would go: the per-mailbox
    limit counts mails sent, never attempts, so attempts alone cannot lock anyone out.
    """
    if not data.email:
        raise ValueError("a sign-up needs an email address")
    with db.session() as session:
        known = subscribers.find_subscriber(session, data.email)
        if known is not None and known.status in ("active", "paused"):
            return SignUp(known.id, "known", False)
        person, _ = subscribers.save_subscriber(session, data, "pending", now)
        outcome: SignUpOutcome = "new" if known is None else "pending" if known.status == "pending" else "returning"
        if known is not None and known.status == "unsubscribed":
            subscribers.set_status(session, person.id, "pending", now)
        queued = (subscribers.claim_confirm_mail(session, person.id, now, CONFIRM_COOLDOWN)
                  and (may_mail is None or may_mail(session)))
        if queued:
            outbox.plan(session, person.id, "email", "confirm", now.isoformat(), now)
        return SignUp(person.id, outcome, queued)


def confirm(db: Database, subscriber_id: int, now: datetime) -> Subscriber | None:
    """Activate a pending subscriber (idempotent for active ones), or turn on an address a chat-only person
    added; None when they left or are gone."""
    with db.session() as session:
        person = subscribers.get_subscriber(session, subscriber_id)
        if person is None or person.status not in ("pending", "active", "paused"):
            return None
        if person.status == "pending":
            person = subscribers.set_status(session, subscriber_id, "active", now)
        if awaits_email_confirmation(person):
            person = subscribers.set_channel_state(session, subscriber_id, "email", True)
            log_event("subscriber.email_added", subscriber=subscriber_id)
        return person


def awaits_email_confirmation(person: Subscriber) -> bool:
    """An address added to a chat-only subscription, not confirmed yet (no digest goes there before)."""
    return person.email is not None and person.email_state == "off" and person.email_reason == subscribers.EMAIL_UNCONFIRMED


AddEmailOutcome = Literal["sent", "cooldown", "taken"]


def add_email(db: Database, subscriber_id: int, email: str, now: datetime,
              may_mail: Callable[[Session], bool] | None = None) -> AddEmailOutcome:
    """A chat-only person gives an address: kept off, and a confirmation mail queued (one per cool-down).

    "taken": the address is someone else's subscription (nothing changes: link the chat from that
    address's manage page instead). The address must already be checked (validation.checked_email).
    """
    with db.session() as session:
        person = subscribers.get_subscriber(session, subscriber_id)
        if person is None or (person.email is not None and not awaits_email_confirmation(person)):
            return "taken"
        try:
            subscribers.add_email(session, subscriber_id, email)
        except subscribers.IdentityTaken:
            return "taken"
        if not (subscribers.claim_confirm_mail(session, subscriber_id, now, CONFIRM_COOLDOWN)
                and (may_mail is None or may_mail(session))):
            return "cooldown"
        outbox.plan(session, subscriber_id, "email", "confirm", now.isoformat(), now)
        return "sent"


def telegram_settings(db: Database, subscriber_id: int, mode: str, quiet: tuple[int, int] | None) -> Subscriber | None:
    """Instant alerts or one daily message in Telegram, and the local hours alerts wait (None: none)."""
    with db.session() as session:
        subscribers.set_telegram_mode(session, subscriber_id, mode)
        return subscribers.set_quiet_hours(session, subscriber_id, *(quiet or (None, None)))


def stored_papers(db: Database) -> Callable[[set[str]], set[str]]:
    """What validation asks to check `like:` ids: which of some paper ids are stored (one short query)."""
    def lookup(ids: set[str]) -> set[str]:
        with db.session() as session:
            return papers.stored_ids(session, ids)
    return lookup


def update_profile(db: Database, subscriber_id: int, data: SubscriberInput, now: datetime) -> Subscriber | None:
    """Save new interests and schedule; matches of the old interests that were not sent yet are forgotten."""
    with db.session() as session:
        person = subscribers.get_subscriber(session, subscriber_id)
        if person is None:
            return None
        keep = SubscriberInput(email=person.email, interests=data.interests, frequency=data.frequency, hour=data.hour,
                               tz=data.tz, weekday=data.weekday, telegram_chat_id=person.telegram_chat_id)
        updated, _ = subscribers.save_subscriber(session, keep, person.status, now)
        if updated.interests != person.interests:
            matches.drop_unsent(session, [subscriber_id])  # the new profile is re-run over recent papers
        return updated


def pause(db: Database, subscriber_id: int, now: datetime) -> Subscriber | None:
    """Stop digests until resumed (matches keep being collected)."""
    return _move(db, subscriber_id, now, frm="active", to="paused")


def resume(db: Database, subscriber_id: int, now: datetime) -> Subscriber | None:
    return _move(db, subscriber_id, now, frm="paused", to="active")


def _move(db: Database, subscriber_id: int, now: datetime, *, frm: str, to: str) -> Subscriber | None:
    with db.session() as session:
        person = subscribers.get_subscriber(session, subscriber_id)
        if person is not None and person.status == frm:
            person = subscribers.set_status(session, subscriber_id, to, now)
        return person


def unsubscribe(db: Database, subscriber_id: int, now: datetime) -> Subscriber | None:
    """Leave: status unsubscribed, waiting mails dropped, unsent matches forgotten (idempotent)."""
    with db.session() as session:
        person = subscribers.set_status(session, subscriber_id, "unsubscribed", now)
        if person is None:
            return None
        for outbox_id in outbox.drop_waiting(session, subscriber_id, "unsubscribed"):
            matches.release_from_outbox(session, outbox_id)
        matches.drop_unsent(session, [subscriber_id])
        return person


def delete_all(db: Database, subscriber_id: int) -> bool:
    """Delete the subscriber and everything of theirs (interests, matches, outbox rows); their links die with the row."""
    with db.session() as session:
        return subscribers.delete_subscriber(session, subscriber_id)


StopOutcome = Literal["deleted", "unlinked", "unknown"]


def stop_telegram(db: Database, chat_id: str) -> StopOutcome:
    """Telegram /stop: a chat-only person is deleted; a person with an email keeps it, loses the chat.

    The surviving row gets a new token secret, so every link sent before (which the chat
    may have been shown) stops working: their Telegram data is gone, links included.
    """
    with db.session() as session:
        person = subscribers.find_by_identifier(session, f"tg:{chat_id}")
        if person is None:
            return "unknown"
        if person.email is None:
            subscribers.delete_subscriber(session, person.id)
            log_event("telegram.stopped", subscriber=person.id, outcome="deleted")
            return "deleted"
        subscribers.set_telegram_chat(session, person.id, None)
        subscribers.rotate_token_secret(session, person.id)
        log_event("telegram.unlinked", subscriber=person.id)
        return "unlinked"


def _code_hash(code: str) -> str:
    return hashlib.sha256(code.replace("-", "").strip().upper().encode()).hexdigest()


def new_telegram_code(db: Database, subscriber_id: int, now: datetime) -> str:
    """A fresh one-time code (`ABCD-EFGH`) that links a Telegram chat; only its hash is stored."""
    raw = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(8))
    with db.session() as session:
        subscribers.set_telegram_code(session, subscriber_id, _code_hash(raw), now + TELEGRAM_CODE_TTL)
    return f"{raw[:4]}-{raw[4:]}"


def link_telegram(db: Database, code: str, chat_id: str, now: datetime) -> Subscriber | None:
    """Attach a chat to the subscriber whose code this is (the code is used up); None for a bad or old code.

    IdentityTaken when the chat already belongs to someone else: the transaction rolls
    back, so nothing changes and the code still works (from another chat).
    """
    with db.session() as session:
        person = subscribers.take_telegram_code(session, _code_hash(code), now)
        if person is None:
            return None
        holder = subscribers.find_by_identifier(session, f"tg:{chat_id}")
        if holder is not None and holder.id != person.id:
            raise subscribers.IdentityTaken(f"Telegram chat {chat_id} already belongs to another subscriber; "
                                            "send /stop there first, then link again.")
        linked = subscribers.set_telegram_chat(session, person.id, chat_id)
        log_event("telegram.linked", subscriber=person.id)  # the chat id is the person's: not in the log
        return linked


class UnknownLink(BadToken):
    """A well-signed link that is no one's now: its subscriber is gone, or their secret (v1: address) changed."""


class PersonGone(UnknownLink):
    """A well-signed link whose subscriber no longer exists (their data was deleted)."""


def resolve(db: Database, tokens: Tokens, purpose: Purpose, token: str) -> Subscriber:
    """The subscriber a link (v1 or v2) is for; BadToken when it is tampered, expired or for someone who is gone.

    v2 links are bound to the person's current token secret; v1 links (mail sent before
    this release) to their address, while the secret the migration gave them lasts.
    """
    claim = tokens.read(purpose, token)
    with db.session() as session:
        person = subscribers.get_subscriber(session, claim.subscriber_id)
    if person is None:
        raise PersonGone("This link is not valid any more.")
    if not Tokens.belongs_to(claim, person):
        raise UnknownLink("This link is not valid any more.")
    return person


@dataclass(frozen=True)
class PreviewItem:
    paper: Paper
    why: str


@dataclass(frozen=True)
class Preview:
    """What a profile would have found among the recent papers: the count and the best few."""

    count: int
    items: tuple[PreviewItem, ...]
    searched: int  # papers looked at


def preview(db: Database, interests: tuple[str, ...], now: datetime, *, recent_days: int, trending_top: int,
            show: int = 5) -> Preview:
    """Run each interest over the papers first seen in the last `recent_days` days (nothing is written)."""
    with db.session() as session:
        recent = papers.recent_papers(session, now - timedelta(days=recent_days))
        trending = current_trending(session, now, trending_top)
    found: dict[str, Match] = {}
    for interest in interests:
        for match in search(interest, recent, trending):
            seen = found.get(match.paper_id)
            found[match.paper_id] = match if seen is None else Match(
                0, match.paper_id, seen.score, seen.interests + match.interests, seen.hits + match.hits)
    by_id = {p.id: p for p in recent}
    ranked = rank(found.values(), by_id)
    items = tuple(PreviewItem(by_id[m.paper_id], why(m)) for m in ranked[:show])
    return Preview(len(ranked), items, len(recent))
