"""Subscribers (people with an email, a Telegram chat, or both) and their interests in the database."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from bot.errors import PaperpostError
from bot.models import Subscriber, SubscriberInput
from bot.store.schema import InterestRow, SubscriberRow
from bot.tokens import MAX_ID, new_secret

Outcome = Literal["created", "updated", "unchanged"]


def to_subscriber(row: Any, interests: Iterable[str] | None = None) -> Subscriber:
    """A Subscriber from a mapped row (its interests loaded with it), or from plain columns and `interests`."""
    return Subscriber(
        id=row.id, email=row.email, status=row.status,
        interests=tuple(i.text for i in row.interests) if interests is None else tuple(interests),
        frequency=row.frequency, hour=row.hour, tz=row.tz, weekday=row.weekday,
        telegram_chat_id=row.telegram_chat_id, send_empty=row.send_empty,
        email_state=row.email_state or "on", email_reason=row.email_reason,
        telegram_state=row.telegram_state or "on", telegram_reason=row.telegram_reason,
        token_secret=row.token_secret or "",
        telegram_mode=row.telegram_mode or "instant", quiet_start=row.quiet_start, quiet_end=row.quiet_end,
        telegram_started=bool(row.telegram_started),
    )


def normalise_email(email: str) -> str:
    """Addresses are compared case-insensitively (the domain always is; local parts in practice)."""
    return email.strip().lower()


class IdentityTaken(PaperpostError):
    """An email or a Telegram chat that already belongs to another subscriber."""


def parse_identifier(text: str) -> tuple[Literal["id", "telegram", "email"], str] | None:
    """How a command names a person: `#ID`, `tg:CHAT_ID` or an email; None when it is none of them."""
    text = text.strip()
    if text.startswith("#"):
        digits = text[1:]
        return ("id", digits) if digits.isdigit() and 1 <= int(digits) <= MAX_ID else None
    if text.lower().startswith("tg:"):
        chat = text[3:].strip()
        return ("telegram", chat) if chat.lstrip("-").isdigit() else None
    return ("email", normalise_email(text)) if "@" in text else None


def find_row(session: Session, email: str) -> SubscriberRow | None:
    return session.scalar(select(SubscriberRow).where(SubscriberRow.email == normalise_email(email)))


def find_chat_row(session: Session, chat_id: str) -> SubscriberRow | None:
    return session.scalar(select(SubscriberRow).where(SubscriberRow.telegram_chat_id == chat_id))


def find_identifier_row(session: Session, text: str) -> SubscriberRow | None:
    parsed = parse_identifier(text)
    if parsed is None:
        return None
    kind, value = parsed
    if kind == "id":
        return session.get(SubscriberRow, int(value))
    return find_chat_row(session, value) if kind == "telegram" else find_row(session, value)


def find_by_identifier(session: Session, text: str) -> Subscriber | None:
    """The person an email, `tg:CHAT_ID` or `#ID` names; None when no one (or the text names no one)."""
    row = find_identifier_row(session, text)
    return None if row is None else to_subscriber(row)


def get_subscriber(session: Session, subscriber_id: int) -> Subscriber | None:
    if not 1 <= subscriber_id <= MAX_ID:  # a forged id beyond the column's range is simply no one
        return None
    row = session.get(SubscriberRow, subscriber_id)
    return None if row is None else to_subscriber(row)


def find_subscriber(session: Session, email: str) -> Subscriber | None:
    row = find_row(session, email)
    return None if row is None else to_subscriber(row)


def _row_for(session: Session, data: SubscriberInput) -> SubscriberRow | None:
    """The one row `data` names by its email and/or chat; IdentityTaken when they name two people."""
    by_email = find_row(session, data.email) if data.email else None
    by_chat = find_chat_row(session, data.telegram_chat_id) if data.telegram_chat_id else None
    if by_email is not None and by_chat is not None and by_email is not by_chat:
        raise IdentityTaken(f"Telegram chat {data.telegram_chat_id} already belongs to {to_subscriber(by_chat).label}; "
                            "remove it there first or leave --telegram out.")
    if by_email is None and by_chat is not None and by_chat.email is not None and data.email:
        raise IdentityTaken(f"Telegram chat {data.telegram_chat_id} already belongs to {by_chat.email}; "
                            "give that address or leave --telegram out.")
    return by_email or by_chat


def save_subscriber(session: Session, data: SubscriberInput, status: str, now: datetime) -> tuple[Subscriber, Outcome]:
    """Create the subscriber or bring an existing one in line with `data` (idempotent).

    The person is found by their email, else by their chat; a chat-only person has no
    email. An email or chat is added, never taken away (an import without the chat column
    keeps a chat linked in Telegram). IdentityTaken when the email and chat are two people's.
    """
    if not data.email and not data.telegram_chat_id:
        raise IdentityTaken("A subscriber needs an email or a Telegram chat; give at least one.")
    row = _row_for(session, data)
    if row is None:
        row = SubscriberRow(email=normalise_email(data.email) if data.email else None, status=status, created_at=now,
                            confirmed_at=now if status == "active" else None, token_secret=new_secret())
        session.add(row)
        outcome: Outcome = "created"
    else:
        outcome = "unchanged"
        if not row.token_secret:  # every row has one after the migration; never mint links without it
            row.token_secret = new_secret()
    changed = _apply(row, data)
    # An existing subscriber keeps their status: a re-import never resubscribes
    # someone who left or un-pauses someone who paused; it only vouches for a pending one.
    if outcome == "unchanged" and row.status == "pending" and status == "active":
        row.status, row.confirmed_at, changed = "active", now, True
    if changed and outcome == "unchanged":
        outcome = "updated"
    if outcome != "unchanged":
        row.profile_changed_at = now
    session.flush()
    return to_subscriber(row), outcome


def _apply(row: SubscriberRow, data: SubscriberInput) -> bool:
    changed = False
    for name in ("frequency", "hour", "tz", "weekday"):
        value = getattr(data, name)
        if getattr(row, name) != value:
            setattr(row, name, value)
            changed = True
    if data.email and row.email is None:
        row.email, changed = normalise_email(data.email), True
    if data.telegram_chat_id and row.telegram_chat_id != data.telegram_chat_id:
        row.telegram_chat_id, changed = data.telegram_chat_id, True
    if [i.text for i in row.interests] != list(data.interests):
        row.interests = [InterestRow(position=n, text=text) for n, text in enumerate(data.interests)]
        changed = True
    return changed


def rotate_token_secret(session: Session, subscriber_id: int) -> bool:
    """Give the subscriber a new token secret: every link minted before stops working. False when there is none."""
    row = session.get(SubscriberRow, subscriber_id)
    if row is None:
        return False
    row.token_secret = new_secret()
    return True


def set_status(session: Session, subscriber_id: int, status: str, now: datetime) -> Subscriber | None:
    row = session.get(SubscriberRow, subscriber_id)
    if row is None:
        return None
    if row.status != status:
        row.status = status
        if status == "active":
            row.confirmed_at = row.confirmed_at or now
            row.profile_changed_at = now
    return to_subscriber(row)


def delete_subscriber(session: Session, subscriber_id: int) -> bool:
    """Delete a subscriber by id and everything of theirs; False when there was none."""
    row = session.get(SubscriberRow, subscriber_id)
    if row is None:
        return False
    session.delete(row)
    return True


def list_subscribers(session: Session, status: str | None = None) -> list[Subscriber]:
    query = select(SubscriberRow).order_by(SubscriberRow.id)
    if status is not None:
        query = query.where(SubscriberRow.status == status)
    return [to_subscriber(row) for row in session.scalars(query)]


def active_profiles(session: Session) -> list[tuple[int, tuple[str, ...]]]:
    """(subscriber id, interests) of everyone whose papers are being collected (active or paused)."""
    return _profiles(session, SubscriberRow.status.in_(("active", "paused")))


def profiles_needing_backfill(session: Session) -> list[tuple[int, tuple[str, ...]]]:
    """Active profiles that are new or changed since they were last run over the recent papers."""
    return _profiles(session, SubscriberRow.status.in_(("active", "paused")),
                     (SubscriberRow.matched_at.is_(None)) | (SubscriberRow.profile_changed_at > SubscriberRow.matched_at))


def _profiles(session: Session, *where: Any) -> list[tuple[int, tuple[str, ...]]]:
    """(id, interest lines) of the subscribers `where` selects, in one query (no ORM object per person).

    A person with no interest line is listed too, with none: a profile emptied on the page is a change.
    """
    lines: dict[int, list[str]] = {}
    query = (select(SubscriberRow.id, InterestRow.text)
             .outerjoin(InterestRow, InterestRow.subscriber_id == SubscriberRow.id)
             .where(*where).order_by(SubscriberRow.id, InterestRow.position))
    for subscriber_id, text in session.execute(query):
        texts = lines.setdefault(subscriber_id, [])
        if text is not None:
            texts.append(text)
    return [(subscriber_id, tuple(texts)) for subscriber_id, texts in lines.items()]


def mark_backfilled(session: Session, subscriber_ids: list[int], now: datetime) -> None:
    """Record that these profiles were run over the recent papers at `now` (one UPDATE per 500)."""
    for start in range(0, len(subscriber_ids), 500):
        session.execute(update(SubscriberRow).where(SubscriberRow.id.in_(subscriber_ids[start:start + 500]))
                        .values(matched_at=now).execution_options(synchronize_session=False))


def claim_confirm_mail(session: Session, subscriber_id: int, now: datetime, cooldown: timedelta) -> bool:
    """Record that a confirmation mail goes out now; False (nothing recorded) within `cooldown` of the last one."""
    row = session.get(SubscriberRow, subscriber_id)
    if row is None:
        return False
    if row.confirm_sent_at is not None and now - row.confirm_sent_at < cooldown:
        return False
    row.confirm_sent_at = now
    return True


def set_telegram_code(session: Session, subscriber_id: int, code_hash: str, expires_at: datetime) -> None:
    """Keep the hash of a one-time Telegram link code (a new code replaces the old one)."""
    row = session.get(SubscriberRow, subscriber_id)
    if row is not None:
        row.telegram_code, row.telegram_code_expires_at = code_hash, expires_at


def take_telegram_code(session: Session, code_hash: str, now: datetime) -> Subscriber | None:
    """The subscriber a valid, unexpired code belongs to; the code is used up either way."""
    row = session.scalar(select(SubscriberRow).where(SubscriberRow.telegram_code == code_hash))
    if row is None:
        return None
    expires_at = row.telegram_code_expires_at
    row.telegram_code, row.telegram_code_expires_at = None, None
    if expires_at is None or expires_at < now:
        return None
    return to_subscriber(row)


def set_telegram_chat(session: Session, subscriber_id: int, chat_id: str | None) -> Subscriber | None:
    row = session.get(SubscriberRow, subscriber_id)
    if row is None:
        return None
    row.telegram_chat_id = chat_id
    return to_subscriber(row)


def record_bounce(session: Session, subscriber_id: int, limit: int) -> Subscriber | None:
    """Count a permanent delivery failure; at `limit` in a row the email channel goes off (Telegram stays on)."""
    row = session.get(SubscriberRow, subscriber_id)
    if row is None:
        return None
    row.bounces = (row.bounces or 0) + 1
    if row.bounces >= limit and row.email_state == "on":
        row.email_state = "off"
        row.email_reason = f"bouncing: {row.bounces} permanent delivery failures in a row"
    return to_subscriber(row)


EMAIL_UNCONFIRMED = "waiting for you to confirm this address from the mail we sent"


def add_email(session: Session, subscriber_id: int, email: str) -> Subscriber | None:
    """Give a chat-only person an address, off until they confirm it; IdentityTaken when it is someone else's."""
    row = session.get(SubscriberRow, subscriber_id)
    if row is None:
        return None
    address = normalise_email(email)
    other = find_row(session, address)
    if other is not None and other.id != subscriber_id:
        raise IdentityTaken(f"{address} belongs to another subscriber")
    row.email, row.email_state, row.email_reason = address, "off", EMAIL_UNCONFIRMED
    return to_subscriber(row)


def set_channel_state(session: Session, subscriber_id: int, channel: str, on: bool,
                      reason: str | None = None) -> Subscriber | None:
    """Turn one channel (email, telegram) on or off for a subscriber, with the reason it went off."""
    row = session.get(SubscriberRow, subscriber_id)
    if row is None:
        return None
    if channel not in ("email", "telegram"):
        raise ValueError(f"unknown channel {channel!r}")
    setattr(row, f"{channel}_state", "on" if on else "off")
    setattr(row, f"{channel}_reason", None if on else reason)
    if channel == "email" and on:
        row.bounces = 0
    return to_subscriber(row)


# Built once: the sender runs it after every delivered message.
_CLEAR_BOUNCES = (update(SubscriberRow).where(SubscriberRow.id == bindparam("subscriber_id"), SubscriberRow.bounces > 0)
                  .values(bounces=0))


def clear_bounces(session: Session, subscriber_id: int) -> None:
    """A delivered message resets the count of bounces in a row."""
    session.connection().execute(_CLEAR_BOUNCES, {"subscriber_id": subscriber_id})


def subscribers_by_id(session: Session, ids: Iterable[int]) -> dict[int, Subscriber]:
    """Many subscribers in two queries per 500 (rows, then their interests): the sender's batch path.

    Plain rows, no ORM objects: a claim loads hundreds of people, and building mapped
    objects (with their interest collections) cost more than the queries.
    """
    wanted = sorted(set(ids))
    found: dict[int, Subscriber] = {}
    columns = [SubscriberRow.__table__.c[name] for name in _SUBSCRIBER_FIELDS]
    for start in range(0, len(wanted), 500):  # stay under SQLite's bound-parameter limit
        chunk = wanted[start:start + 500]
        interests: dict[int, list[str]] = {}
        for subscriber_id, text in session.execute(
                select(InterestRow.subscriber_id, InterestRow.text).where(InterestRow.subscriber_id.in_(chunk))
                .order_by(InterestRow.subscriber_id, InterestRow.position)):
            interests.setdefault(subscriber_id, []).append(text)
        for row in session.execute(select(*columns).where(SubscriberRow.id.in_(chunk))):
            found[row.id] = to_subscriber(row, interests.get(row.id, ()))
    return found


_SUBSCRIBER_FIELDS = ("id", "email", "status", "frequency", "hour", "tz", "weekday", "telegram_chat_id", "send_empty",
                      "email_state", "email_reason", "telegram_state", "telegram_reason", "token_secret",
                      "telegram_mode", "quiet_start", "quiet_end", "telegram_started")


@dataclass(frozen=True)
class EmailSchedule:
    """What the planner needs of a person with email on: when their digest is due, and "nothing today" mails."""

    id: int
    frequency: str
    weekday: int
    hour: int
    tz: str
    send_empty: bool


def email_schedules(session: Session, only_subscriber: int | None = None) -> list[EmailSchedule]:
    """Active subscribers whose email is on, as schedules: one light query, no interests, no ORM objects."""
    query = (select(SubscriberRow.id, SubscriberRow.frequency, SubscriberRow.weekday, SubscriberRow.hour,
                    SubscriberRow.tz, SubscriberRow.send_empty)
             .where(SubscriberRow.status == "active", SubscriberRow.email.is_not(None),
                    SubscriberRow.email_state == "on").order_by(SubscriberRow.id))
    if only_subscriber is not None:
        query = query.where(SubscriberRow.id == only_subscriber)
    return [EmailSchedule(*row) for row in session.execute(query)]


# Telegram ---------------------------------------------------------------------------------------------

def telegram_started(session: Session, subscriber_id: int) -> Subscriber | None:
    """The chat wrote /start: it may be sent alerts now, and a chat turned off by a 403 is back on."""
    row = session.get(SubscriberRow, subscriber_id)
    if row is None:
        return None
    row.telegram_started = True
    if row.telegram_state != "on":
        row.telegram_state, row.telegram_reason = "on", None
    return to_subscriber(row)


def set_telegram_mode(session: Session, subscriber_id: int, mode: str) -> Subscriber | None:
    """`instant` (an alert per paper) or `daily` (one Telegram message at the subscriber's hour)."""
    if mode not in ("instant", "daily"):
        raise ValueError(f"unknown Telegram mode {mode!r}")
    row = session.get(SubscriberRow, subscriber_id)
    if row is None:
        return None
    row.telegram_mode = mode
    return to_subscriber(row)


def set_quiet_hours(session: Session, subscriber_id: int, start: int | None, end: int | None) -> Subscriber | None:
    """Local hours [start, end) during which Telegram alerts wait (both None: no quiet hours)."""
    if (start is None) != (end is None) or any(h is not None and not 0 <= h <= 23 for h in (start, end)):
        raise ValueError("quiet hours are two hours 0-23, or none")
    row = session.get(SubscriberRow, subscriber_id)
    if row is None:
        return None
    row.quiet_start, row.quiet_end = start, end
    return to_subscriber(row)


@dataclass(frozen=True)
class TelegramRecipient:
    """A chat the alerts planner serves: the person, whether alerts were held in quiet hours, and the first
    match id to alert (earlier ones were found before the chat was linked)."""

    person: Subscriber
    held: bool
    from_match: int


def telegram_recipients(session: Session, mode: str) -> list[TelegramRecipient]:
    """Active subscribers whose chat may be sent to in `mode` (on, started)."""
    rows = session.scalars(select(SubscriberRow).where(
        SubscriberRow.status == "active", SubscriberRow.telegram_chat_id.is_not(None),
        SubscriberRow.telegram_state == "on", SubscriberRow.telegram_started.is_(True),
        SubscriberRow.telegram_mode == mode).order_by(SubscriberRow.id))
    return [TelegramRecipient(to_subscriber(row), bool(row.telegram_held), row.telegram_from_match or 0) for row in rows]


def alert_from_match(session: Session, subscriber_id: int, first_id: int) -> None:
    """Alert only matches with an id of at least `first_id` (those found from now on)."""
    row = session.get(SubscriberRow, subscriber_id)
    if row is not None:
        row.telegram_from_match = first_id


def set_telegram_held(session: Session, subscriber_ids: Iterable[int], held: bool) -> None:
    """Remember that alerts were held in quiet hours (they go out as one message after), or that they went."""
    ids = sorted(set(subscriber_ids))
    for start in range(0, len(ids), 500):
        session.execute(update(SubscriberRow).where(SubscriberRow.id.in_(ids[start:start + 500]))
                        .values(telegram_held=held))


def move_telegram_chat(session: Session, old_chat_id: str, new_chat_id: str) -> bool:
    """Telegram moved a group to a new chat id (migrate_to_chat_id): follow it. False when no one had the old id."""
    row = find_chat_row(session, old_chat_id)
    if row is None or find_chat_row(session, new_chat_id) is not None:
        return False
    row.telegram_chat_id = new_chat_id
    return True
