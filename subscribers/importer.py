"""Read a subscribers file (our TOML format or CSV; email and/or telegram chat) into validated rows and per-line errors.

A bad row is never fatal: whatever is wrong with it (a value of the wrong type, a time zone
that is a folder, a superscript digit, a CSV field over the csv module's limit, TOML nested
past the parser's recursion limit) becomes a `RowError` with its line, and the other rows go
on. Only a file that cannot be read at all raises `ImportFileError`, with one sentence.
CSV is streamed in batches (`iter_subscriber_batches`), so a large file is never held whole.
The CSV cells that `subscribers export` protects against spreadsheet formulas
(`escape_cell`) are read back unchanged (`unescape_cell`).
"""

from __future__ import annotations

import csv
import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from zoneinfo import available_timezones

from bot.errors import ImportFileError
from bot.models import SubscriberInput
from bot.profile import interest_warnings
from subscribers.validation import InvalidSubscriber, RawSubscriber, split_interests, validate_subscriber

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


# --- the CSV cells export writes and import reads ----------------------------------------------------------

# A spreadsheet runs a cell that starts with one of these as a formula (= + - @, and tab or CR before them).
_FORMULA_START = re.compile(r"'*[=+\-@\t\r]")


def escape_cell(value: str) -> str:
    """Return a CSV cell a spreadsheet shows as text: a leading `'` before a formula-like start.

    Quotes already before such a start get one more, so that `unescape_cell` is an exact inverse.
    """
    return "'" + value if _FORMULA_START.match(value) else value


def unescape_cell(value: str) -> str:
    """Undo `escape_cell`: drop the one `'` it put before a formula-like start; anything else as it is."""
    return value[1:] if value.startswith("'") and _FORMULA_START.match(value, 1) else value


# --- reading -------------------------------------------------------------------------------------------------

def read_subscribers_file(path: Path) -> tuple[list[ImportRow], list[RowError]]:
    """Good rows and bad rows (with line numbers) of a .toml or .csv subscribers file."""
    rows: list[ImportRow] = []
    errors: list[RowError] = []
    for batch in iter_subscriber_batches(path):
        rows.extend(batch.rows)
        errors.extend(batch.errors)
    return rows, errors


def iter_subscriber_batches(path: Path, size: int = BATCH_ROWS) -> Iterator[ImportBatch]:
    """Validated rows and row errors of a subscribers file, `size` rows at a time, in line order.

    ImportFileError (one sentence) when the file cannot be read at all; raised before the
    first batch for a missing, unreadable or headerless file.
    """
    if not path.exists():
        raise ImportFileError(f"Cannot read {path} (no such file); check the path.")
    if not path.is_file():
        raise ImportFileError(f"Cannot read {path}: it is not a regular file; give the path of a .csv or .toml file.")
    raw_rows = _toml_rows(path) if path.suffix.lower() == ".toml" else _csv_rows(path)
    first = next(raw_rows, None)  # the header checks run now, before anything is imported
    if first is None:
        return
    batch = ImportBatch()
    seen: dict[tuple[str, str], int] = {}  # (email|telegram, value) -> the line that gave it first
    for line, raw in _chain(first, raw_rows):
        problem = raw if isinstance(raw, str) else None
        if problem is None:
            assert isinstance(raw, RawSubscriber)
            problem = _check_row(line, raw, seen, batch)
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


def validate_row(raw: RawSubscriber) -> SubscriberInput:
    """`validate_subscriber` that never fails on an odd value: InvalidSubscriber names every bad field.

    Values that validation would choke on (a zone that is a folder, a superscript digit) or
    let through unusable (a NUL, a chat id in other digits) are checked here first, against
    closed sets; placeholders stand in for them so that validation still names the rest.
    """
    unsafe = _unsafe_fields(raw)
    try:
        subscriber = validate_subscriber(replace(raw, **{name: _PLACEHOLDERS[name] for name in unsafe}))
    except InvalidSubscriber as exc:
        raise InvalidSubscriber({**exc.errors, **unsafe}) from None
    except (ValueError, TypeError, OSError, ArithmeticError) as exc:  # a value validation did not foresee
        raise InvalidSubscriber({**unsafe, "row": f"could not be read ({type(exc).__name__}); check its values"}
                                ) from exc
    if unsafe:
        raise InvalidSubscriber(unsafe)
    return subscriber


def _check_row(line: int, raw: RawSubscriber, seen: dict[tuple[str, str], int], batch: ImportBatch) -> str | None:
    """Validate one row into `batch.rows`; return the row's error instead when it is bad."""
    try:
        subscriber = validate_row(raw)
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


# --- CSV -----------------------------------------------------------------------------------------------------

def _csv_rows(path: Path) -> Iterator[tuple[int, RawSubscriber | str]]:
    """(line, row or the row's error) for each record of a CSV file, read as it streams."""
    try:
        # surrogateescape: a row with bytes that are not UTF-8 is one bad row, not a dead import
        handle = path.open("r", encoding="utf-8-sig", errors="surrogateescape", newline="")
    except OSError as exc:
        raise ImportFileError(f"Cannot read {path} ({exc.strerror}); check the path.") from exc
    with handle:
        reader = csv.reader(handle)
        try:
            header = next(reader, [])
        except (csv.Error, OSError) as exc:
            raise ImportFileError(f"Cannot read {path} as CSV ({exc}); save it as UTF-8 CSV.") from exc
        columns = [c.strip().lower() for c in header]
        if any(_undecodable(c) or "\x00" in c for c in columns):
            raise ImportFileError(f"{path} is not UTF-8 text; save it as UTF-8 CSV and try again.")
        if "interests" not in columns or not set(columns) & {"email", "telegram"}:
            shown = ", ".join(sorted(c[:40] for c in set(columns) if c)) or "none"
            raise ImportFileError(f"{path} needs a header row with the columns email,interests (and telegram for "
                                  f"chats; found: {shown}).")
        previous = reader.line_num  # the header's last line
        while True:
            try:
                record = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:  # a field over the csv module's size limit: that record only
                line, previous = previous + 1, reader.line_num
                yield line, f"this record cannot be read as CSV ({exc})"
                continue
            except OSError as exc:
                raise ImportFileError(f"Cannot read {path} past line {previous} ({exc.strerror}); the rows before "
                                      "it were imported.") from exc
            line, previous = previous + 1, reader.line_num  # a record's first line (fields may span lines)
            if not any(cell.strip() for cell in record):
                continue  # a blank line
            yield line, _csv_record(dict(zip(columns, (unescape_cell(cell) for cell in record))))


def _csv_record(record: dict[str, str]) -> RawSubscriber | str:
    if any(_undecodable(value) for value in record.values()):
        return "this row is not UTF-8 text; save the file as UTF-8"
    return RawSubscriber(
        email=record.get("email") or None, interests=split_interests(record.get("interests", "")),
        frequency=record.get("frequency") or None, hour=record.get("hour") or None,
        tz=record.get("tz") or None, weekday=record.get("weekday") or None, telegram=record.get("telegram") or None,
    )


_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")  # what surrogateescape makes of a byte that is not UTF-8


def _undecodable(text: str) -> bool:
    return not text.isascii() and _ESCAPED_BYTE.search(text) is not None


# --- TOML ----------------------------------------------------------------------------------------------------

_HEADER = re.compile(r"^[ \t]*\[\[[ \t]*subscriber[ \t]*\]\]", re.MULTILINE)
_TOML_AT = re.compile(r"\(at line (\d+), column (\d+)\)")
_TOML_TROUBLE = (tomllib.TOMLDecodeError, RecursionError, ValueError, MemoryError)


def _toml_rows(path: Path) -> Iterator[tuple[int, RawSubscriber | str]]:
    """(line, row or the row's error) for each [[subscriber]] table; a broken table is one bad row."""
    text = _read_text(path)
    starts = [m.start() for m in _HEADER.finditer(text)]
    lines = [text.count("\n", 0, start) + 1 for start in starts]  # tomllib keeps no positions
    try:
        tables = tomllib.loads(text).get("subscriber")
    except _TOML_TROUBLE as exc:
        if not starts:
            raise ImportFileError(f"{path} is not valid TOML ({_toml_problem(exc, 1)}); fix the file and "
                                  "try again.") from exc
        yield from _toml_tables_one_by_one(text, starts, lines)
        return
    if not isinstance(tables, list):
        raise ImportFileError(f"{path} has no [[subscriber]] tables; see seeds/subscribers.toml for the format.")
    for n, table in enumerate(tables):
        yield (lines[n] if n < len(lines) else 0), _toml_table(table)


def _toml_tables_one_by_one(text: str, starts: list[int], lines: list[int]) -> Iterator[tuple[int, RawSubscriber | str]]:
    """Parse each [[subscriber]] table on its own, so that one broken table spoils only its own row."""
    prefix = text[:starts[0]]
    try:
        tomllib.loads(prefix)
    except _TOML_TROUBLE as exc:
        yield 1, f"the lines before the first [[subscriber]] are not valid TOML ({_toml_problem(exc, 1)})"
    for n, start in enumerate(starts):
        chunk = text[start:starts[n + 1] if n + 1 < len(starts) else len(text)]
        try:
            tables = tomllib.loads(chunk).get("subscriber")
        except _TOML_TROUBLE as exc:
            yield lines[n], f"this table is not valid TOML ({_toml_problem(exc, lines[n])})"
            continue
        yield lines[n], _toml_table(tables[0] if isinstance(tables, list) and tables else None)


def _toml_problem(exc: BaseException, first_line: int) -> str:
    """tomllib's message with its line made a line of the whole file; a sentence for the other failures."""
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    if isinstance(exc, MemoryError):
        return "too large to read"
    message = str(exc)[:200]
    return _TOML_AT.sub(lambda m: f"(at line {first_line + int(m.group(1)) - 1}, column {m.group(2)})", message)


def _read_text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImportFileError(f"Cannot read {path} ({exc.strerror}); check the path.") from exc
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportFileError(f"{path} is not UTF-8 text (byte {exc.start}); save it as UTF-8 and try again.") from exc


_TEXT_FIELDS = ("email", "frequency", "tz")
_NUMBER_OR_TEXT = ("hour", "weekday", "telegram")


def _toml_table(table: Any) -> RawSubscriber | str:
    """A RawSubscriber from one TOML table, or what is wrong with the table's value types."""
    if not isinstance(table, dict):
        return "each [[subscriber]] must be a table of keys (email, interests, ...)"
    problems = [f"{key}: must be text, not {_kind(table[key])}" for key in _TEXT_FIELDS
                if key in table and not isinstance(table[key], str)]
    problems += [f"{key}: must be a number or text, not {_kind(table[key])}" for key in _NUMBER_OR_TEXT
                 if key in table and (isinstance(table[key], bool) or not isinstance(table[key], (int, str)))]
    interests = table.get("interests", [])
    if isinstance(interests, str):
        interests = split_interests(interests)
    elif not isinstance(interests, list) or not all(isinstance(i, str) for i in interests):
        problems.append(f"interests: must be a list of text lines or one text, not {_kind(interests)}")
    if problems:
        return "; ".join(problems)
    telegram = table.get("telegram")
    return RawSubscriber(
        email=table.get("email"), interests=interests, frequency=table.get("frequency"), hour=table.get("hour"),
        tz=table.get("tz"), weekday=table.get("weekday"), telegram=None if telegram is None else str(telegram),
    )


def _kind(value: Any) -> str:
    return {bool: "true/false", int: "a number", float: "a number", list: "a list", dict: "a table",
            str: "text"}.get(type(value), type(value).__name__)
