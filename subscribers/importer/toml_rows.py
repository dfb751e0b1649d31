"""The TOML side of an import: [[subscriber]] tables into raw rows, a broken table costing only itself (pure)."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bot.errors import ImportFileError
from subscribers.validation import RawSubscriber, split_interests

__all__ = ["toml_rows"]


_HEADER = re.compile(r"^[ \t]*\[\[[ \t]*subscriber[ \t]*\]\]", re.MULTILINE)
_TOML_AT = re.compile(r"\(at line (\d+), column (\d+)\)")
_TOML_TROUBLE = (tomllib.TOMLDecodeError, RecursionError, ValueError, MemoryError)


def toml_rows(path: Path) -> Iterator[tuple[int, RawSubscriber | str]]:
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
