"""Check what a person or an operator typed about a subscriber; one message per bad field."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from email_validator import EmailNotValidError, validate_email

from bot.models import SubscriberInput
from bot.profile import check_interests

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MAX_INTERESTS = 50


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


def validate_subscriber(raw: RawSubscriber, *, require_email: bool = False) -> SubscriberInput:
    """A clean SubscriberInput, or InvalidSubscriber naming every bad field.

    A person needs an email or a Telegram chat (either may be missing, not both);
    `require_email` is for the web sign-up, where the address is the only way in.
    """
    errors: dict[str, str] = {}
    email = _email(raw.email, errors) if require_email or (raw.email or "").strip() else None
    interests = [i.strip() for i in raw.interests if i and i.strip()]
    if not interests:
        errors["interests"] = "give at least one interest"
    elif len(interests) > MAX_INTERESTS:
        errors["interests"] = f"at most {MAX_INTERESTS} interests, got {len(interests)}"
    else:
        problems = check_interests(interests)
        if problems:
            errors["interests"] = "; ".join(f"interest {n} ({interests[n - 1][:60]!r}): {err}" for n, err in problems)
    frequency = (raw.frequency or "daily").strip().lower()
    if frequency not in ("daily", "weekly"):
        errors["frequency"] = f"must be daily or weekly, not {frequency!r}"
    hour = _hour(raw.hour, errors)
    tz = _tz(raw.tz, errors)
    weekday = _weekday(raw.weekday, errors)
    telegram = (raw.telegram or "").strip() or None
    if telegram is not None and not telegram.lstrip("-").isdigit():
        errors["telegram"] = f"a Telegram chat id is a number, not {telegram!r}"
    if email is None and telegram is None and "email" not in errors and "telegram" not in errors:
        errors["email"] = "give an email address or a Telegram chat id (or both)"
    if errors:
        raise InvalidSubscriber(errors)
    return SubscriberInput(email=email, interests=tuple(interests), frequency=frequency, hour=hour, tz=tz,
                           weekday=weekday, telegram_chat_id=telegram)


def _email(text: str | None, errors: dict[str, str]) -> str:
    try:
        return validate_email((text or "").strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        errors["email"] = str(exc)
        return ""


def _hour(value: str | int | None, errors: dict[str, str]) -> int:
    if value is None or value == "":
        return 7
    try:
        hour = int(value)
    except (TypeError, ValueError):
        hour = -1
    if not 0 <= hour <= 23:
        errors["hour"] = f"must be a whole hour from 0 to 23, not {value!r}"
    return hour


def _tz(value: str | None, errors: dict[str, str]) -> str:
    name = (value or "UTC").strip()
    if name not in _zone_names():
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            errors["tz"] = f"unknown time zone {name!r}; use an IANA name such as Europe/Berlin"
    return name


def _weekday(value: str | int | None, errors: dict[str, str]) -> int:
    if value is None or value == "":
        return 0
    if isinstance(value, int) or str(value).isdigit():
        day = int(value)
        if 0 <= day <= 6:
            return day
    elif str(value).strip().lower() in WEEKDAYS:
        return WEEKDAYS.index(str(value).strip().lower())
    errors["weekday"] = f"must be a day name (monday..sunday), not {value!r}"
    return 0


_ZONES: set[str] = set()


def _zone_names() -> set[str]:
    if not _ZONES:
        _ZONES.update(available_timezones())
    return _ZONES
