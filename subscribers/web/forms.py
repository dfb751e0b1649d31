"""The profile form (sign-up and manage): values as typed, checked into a SubscriberInput or errors per field."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from zoneinfo import available_timezones

from bot.models import Subscriber, SubscriberInput
from bot.profile import check_interests
from subscribers.validation import WEEKDAYS, InvalidSubscriber, RawSubscriber, split_interests, validate_subscriber

FIELDS = ("email", "interests", "frequency", "weekday", "hour", "tz")
HONEYPOT = "website"  # hidden from people; bots that fill every field fill it


@dataclass(frozen=True)
class ProfileForm:
    """The fields of the form as strings, exactly as typed (shown back, escaped, when there are errors)."""

    email: str = ""
    interests: str = ""
    frequency: str = "daily"
    weekday: str = "0"
    hour: str = "7"
    tz: str = "UTC"

    @classmethod
    def from_form(cls, form: Mapping[str, object]) -> "ProfileForm":
        def text(name: str, default: str) -> str:
            value = form.get(name)
            return value if isinstance(value, str) else default  # uploads are not text: ignored

        return cls(email=text("email", ""), interests=text("interests", ""), frequency=text("frequency", "daily"),
                   weekday=text("weekday", "0"), hour=text("hour", "7"), tz=text("tz", "UTC"))

    @classmethod
    def from_subscriber(cls, person: Subscriber) -> "ProfileForm":
        return cls(email=person.email or "", interests="\n".join(person.interests), frequency=person.frequency,
                   weekday=str(person.weekday), hour=str(person.hour), tz=person.tz)

    @property
    def interest_lines(self) -> list[str]:
        return split_interests(self.interests)


@dataclass(frozen=True)
class Checked:
    """A form after checking: the clean input, or the messages per field (interests: one per bad line)."""

    form: ProfileForm
    data: SubscriberInput | None
    errors: dict[str, list[str]] = field(default_factory=dict)


def check_form(form: ProfileForm, person: Subscriber | None = None) -> Checked:
    """Validate the form: a sign-up needs the typed address; the manage page keeps `person`'s email and chat."""
    lines = form.interest_lines
    raw = RawSubscriber(email=form.email if person is None else person.email, interests=lines,
                        frequency=form.frequency, hour=form.hour, tz=form.tz, weekday=form.weekday,
                        telegram=None if person is None else person.telegram_chat_id)
    try:
        return Checked(form, validate_subscriber(raw, require_email=person is None))
    except InvalidSubscriber as exc:
        errors = {name: [message] for name, message in exc.errors.items()}
    if "interests" in errors and lines:
        detailed = interest_errors(lines)
        if detailed:
            errors["interests"] = detailed
    if "email" in errors:
        errors["email"] = [_sentence(errors["email"][0])]
    return Checked(form, None, errors)


def interest_errors(lines: list[str]) -> list[str]:
    """One message per bad interest: its number, the problem and the column where it is."""
    messages = []
    for number, error in check_interests(lines):
        where = f", column {error.position}" if error.position else ""
        messages.append(f"Interest {number}{where}: {error.message}.")
    return messages


def _sentence(message: str) -> str:
    return message if len(message) < 300 else message[:297] + "…"


@cache
def time_zones() -> tuple[str, ...]:
    """IANA zone names for the list, UTC first, without the legacy aliases."""
    names = sorted(z for z in available_timezones() if "/" in z and not z.startswith(("Etc/", "SystemV/", "US/")))
    return ("UTC", *names)


WEEKDAY_NAMES = tuple(day.capitalize() for day in WEEKDAYS)
