"""Read a subscribers file (our TOML format or CSV; email and/or telegram chat) into validated rows and per-line errors."""

from __future__ import annotations

import csv
import io
import tomllib
from dataclasses import dataclass
from pathlib import Path

from bot.errors import ImportFileError
from bot.models import SubscriberInput
from subscribers.validation import InvalidSubscriber, RawSubscriber, split_interests, validate_subscriber


@dataclass(frozen=True)
class ImportRow:
    line: int
    subscriber: SubscriberInput


@dataclass(frozen=True)
class RowError:
    line: int
    message: str


def read_subscribers_file(path: Path) -> tuple[list[ImportRow], list[RowError]]:
    """Good rows and bad rows (with line numbers) of a .toml or .csv subscribers file."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImportFileError(f"Cannot read {path} ({exc.strerror}); check the path.") from exc
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportFileError(f"{path} is not UTF-8 text (byte {exc.start}); save it as UTF-8 and try again.") from exc
    if path.suffix.lower() == ".toml":
        raw_rows = _toml_rows(text, path)
    else:
        raw_rows = _csv_rows(text, path)
    rows: list[ImportRow] = []
    errors: list[RowError] = []
    seen: dict[tuple[str, str], int] = {}  # (email|telegram, value) -> the line that gave it first
    for line, raw in raw_rows:
        try:
            subscriber = validate_subscriber(raw)
        except InvalidSubscriber as exc:
            errors.append(RowError(line, str(exc)))
            continue
        keys = [(name, value) for name, value in (("email", subscriber.email), ("telegram", subscriber.telegram_chat_id))
                if value is not None]
        repeated = next((key for key in keys if key in seen), None)
        if repeated is not None:
            errors.append(RowError(line, f"{repeated[0]} {repeated[1]} already given on line {seen[repeated]}"))
            continue
        seen.update((key, line) for key in keys)
        rows.append(ImportRow(line, subscriber))
    return rows, errors


def _toml_rows(text: str, path: Path) -> list[tuple[int, RawSubscriber]]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ImportFileError(f"{path} is not valid TOML ({exc}); fix the file and try again.") from exc
    tables = data.get("subscriber")
    if not isinstance(tables, list):
        raise ImportFileError(f"{path} has no [[subscriber]] tables; see seeds/subscribers.toml for the format.")
    # tomllib keeps no positions: the n-th table starts at the n-th [[subscriber]] header.
    header_lines = [n for n, line in enumerate(text.splitlines(), 1) if line.strip().startswith("[[subscriber]]")]
    rows = []
    for n, table in enumerate(tables):
        line = header_lines[n] if n < len(header_lines) else 0
        interests = table.get("interests", [])
        if isinstance(interests, str):
            interests = split_interests(interests)
        rows.append((line, RawSubscriber(
            email=None if table.get("email") is None else str(table["email"]), interests=[str(i) for i in interests],
            frequency=table.get("frequency"), hour=table.get("hour"), tz=table.get("tz"),
            weekday=table.get("weekday"), telegram=None if table.get("telegram") is None else str(table["telegram"]),
        )))
    return rows


def _csv_rows(text: str, path: Path) -> list[tuple[int, RawSubscriber]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    columns = {c.strip().lower() for c in reader.fieldnames or []}
    if "interests" not in columns or not columns & {"email", "telegram"}:
        raise ImportFileError(f"{path} needs a header row with the columns email,interests (and telegram for chats; "
                              f"found: {', '.join(sorted(columns)) or 'none'}).")
    rows = []
    previous = reader.line_num  # the header's last line
    for record in reader:
        record = {(k or "").strip().lower(): (v or "") for k, v in record.items() if k is not None}
        line, previous = previous + 1, reader.line_num  # a record's first line (fields may span lines)
        rows.append((line, RawSubscriber(
            email=record.get("email") or None, interests=split_interests(record.get("interests", "")),
            frequency=record.get("frequency") or None, hour=record.get("hour") or None,
            tz=record.get("tz") or None, weekday=record.get("weekday") or None, telegram=record.get("telegram") or None,
        )))
    return rows
