"""The CSV side of an import: records streamed into raw rows, and the cells export escapes (pure)."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from pathlib import Path

from bot.errors import ImportFileError
from subscribers.validation import RawSubscriber, split_interests

__all__ = ["csv_rows", "escape_cell", "unescape_cell"]


# --- the cells export writes and import reads

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


# --- records

def csv_rows(path: Path) -> Iterator[tuple[int, RawSubscriber | str]]:
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


