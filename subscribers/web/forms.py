"""The profile form (sign-up and manage): values as typed, checked into a SubscriberInput or errors per field."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from functools import cache
from zoneinfo import available_timezones

from bot.models import Subscriber, SubscriberInput
from bot.profile import check_interests
from subscribers.validation import (MAX_INTERESTS, SHOWN_ERRORS, WEEKDAYS, InvalidSubscriber, RawSubscriber,
                                    StoredPapers, liked_problems, split_interests, unprintable,
                                    validate_subscriber)

FIELDS = ("email", "interests", "frequency", "weekday", "hour", "tz")
HONEYPOT = "website"  # hidden from people; bots that fill every field fill it
# Most characters shown back per field: a full profile is 50 lines of 300 characters; an address is 254.
SHOWN_CHARS = {"interests": MAX_INTERESTS * 302, "email": 320}


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

    def shown(self) -> "ProfileForm":
        """The form as the page shows it back: each field cut to what a real profile can need."""
        return ProfileForm(**{name: value[:SHOWN_CHARS.get(name, 100)] for name, value in asdict(self).items()})


@dataclass(frozen=True)
class Checked:
    """A form after checking: the clean input, or the messages per field (interests: one per bad line)."""

    form: ProfileForm
    data: SubscriberInput | None
    errors: dict[str, list[str]] = field(default_factory=dict)


def check_form(form: ProfileForm, person: Subscriber | None = None,
               stored_papers: StoredPapers | None = None) -> Checked:
    """Validate the form: a sign-up needs the typed address; the manage page keeps `person`'s email and chat.

    CPU work (the parser): call it off the event loop. The interests are counted before
    any is parsed, and only the first few problems are named, so no body makes it slow.
    `stored_papers` checks that each `like:` names a paper we have.
    """
    lines = form.interest_lines
    raw = RawSubscriber(email=form.email if person is None else person.email, interests=lines,
                        frequency=form.frequency, hour=form.hour, tz=form.tz, weekday=form.weekday,
                        telegram=None if person is None else person.telegram_chat_id)
    try:
        return Checked(form, validate_subscriber(raw, require_email=person is None, stored_papers=stored_papers))
    except InvalidSubscriber as exc:
        errors = {name: [_sentence(message)] for name, message in exc.errors.items()}
    if "interests" in errors and lines and not any(map(unprintable, lines)):
        detailed = interest_errors(lines, stored_papers)
        if detailed:
            errors["interests"] = detailed
    return Checked(form, None, errors)


def interest_errors(lines: list[str], stored_papers: StoredPapers | None = None) -> list[str]:
    """One message per bad interest (the first few): its number, the problem and the column where it is."""
    if len(lines) > MAX_INTERESTS:  # counted, never parsed: a pasted file gets one sentence, not one per line
        return [f"At most {MAX_INTERESTS} interests, one per line: this has {len(lines)}. "
                "Keep the ones that matter most."]
    problems = check_interests(lines)
    if not problems and stored_papers is not None:
        problems = liked_problems(lines, stored_papers)
    messages = []
    for number, error in problems[:SHOWN_ERRORS]:
        where = f", column {error.position}" if error.position else ""
        messages.append(f"Interest {number}{where}: {error.message}.")
    if len(problems) > SHOWN_ERRORS:
        messages.append(f"And {len(problems) - SHOWN_ERRORS} more: fix these first.")
    return messages


def _sentence(message: str) -> str:
    text = message if len(message) < 300 else message[:297] + "…"
    return text[:1].upper() + text[1:] + ("" if text.endswith((".", "…")) else ".")


@cache
def time_zones() -> tuple[str, ...]:
    """IANA zone names for the list, UTC first, without the legacy aliases."""
    names = sorted(z for z in available_timezones() if "/" in z and not z.startswith(("Etc/", "SystemV/", "US/")))
    return ("UTC", *names)


WEEKDAY_NAMES = tuple(day.capitalize() for day in WEEKDAYS)
