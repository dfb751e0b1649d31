"""Check what a person or an operator typed about a subscriber; one message per bad field."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from zoneinfo import available_timezones

from email_validator import EmailNotValidError, validate_email

from bot.errors import QueryError
from bot.models import SubscriberInput
from bot.profile import check_interests, papers_liked_in, unknown_liked

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MAX_INTERESTS = 50
SHOWN_ERRORS = 5  # the first few problems of a profile are named; the rest are counted
# Which of some paper ids are stored: `like:` must name a stored paper (the grammar is pure, the store is not).
StoredPapers = Callable[[set[str]], AbstractSet[str]]


class InvalidSubscriber(ValueError):
    """`errors` maps a field name (email, interests, frequency, hour, tz, weekday, telegram) to a message."""

    def __init__(self, errors: dict[str, str]):
        self.errors = errors
        super().__init__("; ".join(f"{field}: {message}" for field, message in errors.items()))


@dataclass(frozen=True)
class RawSubscriber:
    """Fields as typed, before validation (strings, or None when not given)."""

    email: str | None
    interests: Sequence[str]
    frequency: str | None = None
    hour: str | int | None = None
    tz: str | None = None
    weekday: str | int | None = None
    telegram: str | None = None


def split_interests(text: str) -> list[str]:
    """One interest per line, or several on one line separated by ' ; '; blank lines dropped."""
    parts = [piece for line in text.splitlines() for piece in line.split(" ; ")]
    return [part.strip() for part in parts if part.strip()]


def validate_subscriber(raw: RawSubscriber, *, require_email: bool = False,
                        stored_papers: StoredPapers | None = None) -> SubscriberInput:
    """A clean SubscriberInput, or InvalidSubscriber naming every bad field.

    A person needs an email or a Telegram chat (either may be missing, not both);
    `require_email` is for the web sign-up, where the address is the only way in.
    `stored_papers` checks that each `like:` names a stored paper (without it, none is checked).
    """
    errors: dict[str, str] = {}
    email = _email(_text(raw.email), errors) if require_email or _text(raw.email).strip() else None
    interests = _interests(raw.interests, errors)
    if stored_papers is not None and "interests" not in errors:
        _liked(interests, stored_papers, errors)
    frequency = _text(raw.frequency or "daily").strip().lower()
    if frequency not in ("daily", "weekly"):
        errors["frequency"] = f"must be daily or weekly, not {shown(frequency)}"
    hour = _hour(raw.hour, errors)
    tz = _tz(raw.tz, errors)
    weekday = _weekday(raw.weekday, errors)
    telegram = _telegram(raw.telegram, errors)
    if email is None and telegram is None and "email" not in errors and "telegram" not in errors:
        errors["email"] = "give an email address or a Telegram chat id (or both)"
    if errors:
        raise InvalidSubscriber(errors)
    return SubscriberInput(email=email, interests=tuple(interests), frequency=frequency, hour=hour, tz=tz,
                           weekday=weekday, telegram_chat_id=telegram)


def _interests(given: object, errors: dict[str, str]) -> list[str]:
    """The interests, counted before any is parsed; only the first few problems are named."""
    if isinstance(given, str) or not isinstance(given, Sequence) or not all(isinstance(i, str) for i in given):
        errors["interests"] = "give the interests as text, one per line"
        return []
    interests = [i.strip() for i in given if i.strip()]
    if not interests:
        errors["interests"] = "give at least one interest"
    elif len(interests) > MAX_INTERESTS:
        errors["interests"] = f"at most {MAX_INTERESTS} interests, got {len(interests)}"
    elif (bad := next((n for n, i in enumerate(interests, 1) if unprintable(i)), None)) is not None:
        errors["interests"] = f"interest {bad} holds {unprintable(interests[bad - 1])}; type it again as plain text"
    else:
        problems = check_interests(interests)
        if problems:
            listed = "; ".join(f"interest {n} ({shown(interests[n - 1], 60)}): {err}"
                               for n, err in problems[:SHOWN_ERRORS])
            more = len(problems) - SHOWN_ERRORS
            errors["interests"] = listed + (f"; and {more} more" if more > 0 else "")
    return interests


def liked_problems(interests: Sequence[str], stored_papers: StoredPapers) -> list[tuple[int, QueryError]]:
    """(interest number, error with its column) for each `like:` naming a paper that is not stored."""
    wanted = papers_liked_in(interests)
    if not wanted:
        return []
    return list(unknown_liked(interests, stored_papers(wanted)))


def _liked(interests: Sequence[str], stored_papers: StoredPapers, errors: dict[str, str]) -> None:
    problems = liked_problems(interests, stored_papers)
    if problems:
        errors["interests"] = "; ".join(f"interest {n} ({shown(interests[n - 1], 60)}): {err}"
                                        for n, err in problems[:SHOWN_ERRORS])


def unprintable(text: str) -> str | None:
    """What in `text` cannot go into a mail or a page as typed (a control character, an undecodable byte), or None."""
    for char in text:
        kind = unicodedata.category(char)
        if kind == "Cs":
            return "bytes that are not valid text (UTF-8)"
        if kind == "Cc" and char != "\t":
            return f"a control character (U+{ord(char):04X})"
    return None


def _text(value: object) -> str:
    return "" if value is None else str(value)


def _email(text: str | None, errors: dict[str, str]) -> str:
    """The address as we can mail it: ASCII before the @, the domain IDNA-encoded (`bücher.de` -> `xn--bcher-kva.de`).

    Mail servers without SMTPUTF8 cannot take a non-ASCII local part, and our mails are
    sent without it: such an address is refused here, never stored and retried forever.
    """
    address = (text or "").strip()
    local = address.rpartition("@")[0]
    if local and not local.isascii():
        errors["email"] = (f"we can only send to addresses with plain letters, digits and . _ + - before the @ "
                           f"(not {shown(local)}); use another address")
        return ""
    try:
        return validate_email(address, check_deliverability=False, allow_smtputf8=False).ascii_email.lower()
    except EmailNotValidError as exc:
        errors["email"] = str(exc)
        return ""


def checked_email(text: str) -> str:
    """An address as we can mail it (see `_email`); InvalidSubscriber with the reason when it is not one."""
    errors: dict[str, str] = {}
    address = _email(text, errors)
    if errors:
        raise InvalidSubscriber(errors)
    return address


def shown(value: object, limit: int = 40) -> str:
    """`value` quoted for a message, cut to `limit` characters: a message never repeats a whole hostile field."""
    text = str(value)
    return repr(text if len(text) <= limit else text[:limit] + "…")


def _hour(value: str | int | None, errors: dict[str, str]) -> int:
    if value is None or value == "":
        return 7
    hour = _whole(value, 23)
    if hour is None:
        errors["hour"] = f"must be a whole hour from 0 to 23, not {shown(value)}"
        return 7
    return hour


def _whole(value: str | int, top: int) -> int | None:
    """A whole number from 0 to `top`, from an int or one or two ASCII digits; None for anything else.

    Only this closed set reaches int(): no Unicode digits ('²'), no 5,000-digit strings.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 <= value <= top else None
    text = str(value).strip()
    if len(text) <= 2 and text.isascii() and text.isdigit() and int(text) <= top:
        return int(text)
    return None


def _tz(value: object, errors: dict[str, str]) -> str:
    """A zone name from the closed set of `available_timezones()`: nothing else is ever opened as a file."""
    name = _text(value or "UTC").strip()
    if name not in _zone_names():
        errors["tz"] = f"unknown time zone {shown(name)}; use an IANA name such as Europe/Berlin"
        return "UTC"
    return name


def _weekday(value: str | int | None, errors: dict[str, str]) -> int:
    if value is None or value == "":
        return 0
    day = _whole(value, 6)
    if day is None and isinstance(value, str) and value.strip().lower() in WEEKDAYS:
        day = WEEKDAYS.index(value.strip().lower())
    if day is None:
        errors["weekday"] = f"must be a day name (monday..sunday) or 0-6, not {shown(value)}"
        return 0
    return day


def _telegram(value: object, errors: dict[str, str]) -> str | None:
    chat = _text(value).strip() or None
    if chat is not None and not _CHAT_ID.fullmatch(chat):
        errors["telegram"] = f"a Telegram chat id is a number, not {shown(chat)}"
    return chat


_CHAT_ID = re.compile(r"-?[0-9]{1,20}", re.ASCII)  # Telegram ids fit in 52 bits
_ZONES: set[str] = set()


def _zone_names() -> set[str]:
    if not _ZONES:
        _ZONES.update(available_timezones())
    return _ZONES
