"""Read a subscribers file (our TOML format or CSV; email and/or telegram chat) into validated rows and per-line errors.

A bad row is never fatal: whatever is wrong with it (a value of the wrong type, a time zone
that is a folder, a superscript digit, a CSV field over the csv module's limit, TOML nested
past the parser's recursion limit) becomes a `RowError` with its line, and the other rows go
on. Only a file that cannot be read at all raises `ImportFileError`, with one sentence.
CSV is streamed in batches (`iter_subscriber_batches`), so a large file is never held whole.
The CSV cells that `subscribers export` protects against spreadsheet formulas
(`escape_cell`) are read back unchanged (`unescape_cell`). The formats: `csv_rows`, `toml_rows`;
this module checks their rows.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from zoneinfo import available_timezones

from bot.errors import ImportFileError
from bot.models import SubscriberInput
from bot.profile import interest_warnings
from subscribers.importer.csv_rows import csv_rows, escape_cell, unescape_cell
from subscribers.importer.toml_rows import toml_rows
from subscribers.validation import InvalidSubscriber, RawSubscriber, StoredPapers, validate_subscriber

__all__ = ["ImportRow", "RowError", "ImportBatch", "BATCH_ROWS", "read_subscribers_file", "iter_subscriber_batches",
           "validate_row", "escape_cell", "unescape_cell"]

BATCH_ROWS = 2000  # rows validated and handed on at a time: memory stays flat, inserts stay bulk


@dataclass(frozen=True)
class ImportRow:
    line: int
    subscriber: SubscriberInput
    warnings: tuple[str, ...] = ()  # look-alike characters in the interests: imported, but worth a look


@dataclass(frozen=True)
class RowError:
    line: int
    message: str


@dataclass(frozen=True)
class ImportBatch:
    rows: list[ImportRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)


# --- reading and checking -------------------------------------------------------------------------------------------------

def read_subscribers_file(path: Path, stored_papers: StoredPapers | None = None) -> tuple[list[ImportRow], list[RowError]]:
    """Good rows and bad rows (with line numbers) of a .toml or .csv subscribers file."""
    rows: list[ImportRow] = []
    errors: list[RowError] = []
    for batch in iter_subscriber_batches(path, stored_papers=stored_papers):
        rows.extend(batch.rows)
        errors.extend(batch.errors)
    return rows, errors


def iter_subscriber_batches(path: Path, size: int = BATCH_ROWS,
                            stored_papers: StoredPapers | None = None) -> Iterator[ImportBatch]:
    """Validated rows and row errors of a subscribers file, `size` rows at a time, in line order.

    `stored_papers`: each `like:` must name a stored paper (a row naming another is an error).

    ImportFileError (one sentence) when the file cannot be read at all; raised before the
    first batch for a missing, unreadable or headerless file.
    """
    if not path.exists():
        raise ImportFileError(f"Cannot read {path} (no such file); check the path.")
    if not path.is_file():
        raise ImportFileError(f"Cannot read {path}: it is not a regular file; give the path of a .csv or .toml file.")
    raw_rows = toml_rows(path) if path.suffix.lower() == ".toml" else csv_rows(path)
    first = next(raw_rows, None)  # the header checks run now, before anything is imported
    if first is None:
        return
    batch = ImportBatch()
    seen: dict[tuple[str, str], int] = {}  # (email|telegram, value) -> the line that gave it first
    for line, raw in _chain(first, raw_rows):
        problem = raw if isinstance(raw, str) else None
        if problem is None:
            assert isinstance(raw, RawSubscriber)
            problem = _check_row(line, raw, seen, batch, stored_papers)
        if problem is not None:
            batch.errors.append(RowError(line, problem))
        if len(batch.rows) + len(batch.errors) >= size:
            yield batch
            batch = ImportBatch()
    if batch.rows or batch.errors:
        yield batch


def _chain(first: Any, rest: Iterator[Any]) -> Iterator[Any]:
    yield first
    yield from rest


def validate_row(raw: RawSubscriber, stored_papers: StoredPapers | None = None) -> SubscriberInput:
    """`validate_subscriber` that never fails on an odd value: InvalidSubscriber names every bad field.

    Values that validation would choke on (a zone that is a folder, a superscript digit) or
    let through unusable (a NUL, a chat id in other digits) are checked here first, against
    closed sets; placeholders stand in for them so that validation still names the rest.
    """
    unsafe = _unsafe_fields(raw)
    try:
        subscriber = validate_subscriber(replace(raw, **{name: _PLACEHOLDERS[name] for name in unsafe}),
                                         stored_papers=stored_papers)
    except InvalidSubscriber as exc:
        raise InvalidSubscriber({**exc.errors, **unsafe}) from None
    except (ValueError, TypeError, OSError, ArithmeticError) as exc:  # a value validation did not foresee
        raise InvalidSubscriber({**unsafe, "row": f"could not be read ({type(exc).__name__}); check its values"}
                                ) from exc
    if unsafe:
        raise InvalidSubscriber(unsafe)
    return subscriber


def _check_row(line: int, raw: RawSubscriber, seen: dict[tuple[str, str], int], batch: ImportBatch,
               stored_papers: StoredPapers | None = None) -> str | None:
    """Validate one row into `batch.rows`; return the row's error instead when it is bad."""
    try:
        subscriber = validate_row(raw, stored_papers)
    except InvalidSubscriber as exc:
        return str(exc)
    keys = [(name, value) for name, value in (("email", subscriber.email), ("telegram", subscriber.telegram_chat_id))
            if value is not None]
    repeated = next((key for key in keys if key in seen), None)
    if repeated is not None:
        return f"{repeated[0]} {repeated[1]} already given on line {seen[repeated]}"
    seen.update((key, line) for key in keys)
    warnings = tuple(f"interest {n}: {warning}" for n, text in enumerate(subscriber.interests, 1)
                     for warning in interest_warnings(text))
    batch.rows.append(ImportRow(line, subscriber, warnings))
    return None


_ZONES: frozenset[str] = frozenset()
_CHAT_ID = re.compile(r"-?[0-9]{1,20}")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # nothing a person types; PostgreSQL refuses NUL
_PLACEHOLDERS = {"email": None, "interests": ("x",), "frequency": None, "tz": "UTC", "weekday": 0, "hour": 7,
                 "telegram": "0"}


def _unsafe_fields(raw: RawSubscriber) -> dict[str, str]:
    """The values validation would choke on or let through unsendable, by field (closed sets, ASCII digits)."""
    global _ZONES
    if not _ZONES:
        _ZONES = frozenset(available_timezones())
    problems: dict[str, str] = {}
    for name in ("email", "interests", "frequency", "tz", "telegram"):
        value = getattr(raw, name)
        texts = value if isinstance(value, (list, tuple)) else [value]
        if any(isinstance(text, str) and _CONTROL.search(text) for text in texts):
            problems[name] = "holds a control character (such as NUL); remove it"
    hour = raw.hour.strip() if isinstance(raw.hour, str) else raw.hour
    if isinstance(hour, str) and hour and not re.fullmatch(r"[0-9]{1,2}", hour):
        problems["hour"] = f"must be a whole hour from 0 to 23, not {hour[:20]!r}"
    tz = raw.tz.strip() if isinstance(raw.tz, str) else raw.tz
    if tz not in (None, "") and tz not in _ZONES:
        problems["tz"] = f"unknown time zone {str(tz)[:60]!r}; use an IANA name such as Europe/Berlin"
    weekday = raw.weekday.strip() if isinstance(raw.weekday, str) else raw.weekday
    if isinstance(weekday, str) and weekday[:1].isdigit() and not re.fullmatch(r"[0-6]", weekday):
        problems["weekday"] = f"must be a day name (monday..sunday) or 0-6, not {weekday[:20]!r}"
    chat = raw.telegram.strip() if isinstance(raw.telegram, str) else raw.telegram
    if chat and not _CHAT_ID.fullmatch(chat):
        problems["telegram"] = f"a Telegram chat id is a number, not {chat[:30]!r}"
    return problems
