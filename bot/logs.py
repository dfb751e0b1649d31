"""Logging for the long-running commands: one line per event, as `key=value` text or as JSON.

An event is a name and fields (`poll source=arxiv-cs-cl status=ok new=12`);
`log_event()` is the only call the worker makes, and the format is chosen
once, at start, by `setup_logging("text" | "json")`.

Secrets never reach a log line: `RedactSecrets` sits on every handler we install
(ours and uvicorn's) and blanks signed links, link tokens, bot tokens and URL
passwords in messages, their arguments and tracebacks alike.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import datetime, timezone
from typing import IO, Any

LOGGER_NAME = "paperpost"
FORMATS = ("text", "json")

logger = logging.getLogger(LOGGER_NAME)


REDACTED = "[redacted]"
_SECRETS = (
    # The token segment of our links: /manage/TOKEN, also in full URLs and uvicorn's request lines.
    (re.compile(r"(/(?:confirm|manage|unsubscribe|digest|telegram)/)[^\s/?#\"'<>]+"), rf"\g<1>{REDACTED}"),
    # A signed token anywhere else (itsdangerous: payload.timestamp.signature).
    (re.compile(r"[\w-]+\.[\w-]{6}\.[\w-]{27}(?![\w-])", re.ASCII), REDACTED),
    # A Telegram bot token (in API URLs).
    (re.compile(r"\d{5,}:[\w-]{30,}", re.ASCII), REDACTED),
    # user[:password]@ in any URL (SMTP, database, a feed), up to the last @ before the path (a password may hold one).
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/?#\s]*@"), rf"\g<1>{REDACTED}@"),
)
_CREDENTIALS = _SECRETS[-1]


def hide_credentials(text: str) -> str:
    """`text` with the user name and password of every URL in it blanked (what a source shows and records)."""
    pattern, replacement = _CREDENTIALS
    return pattern.sub(replacement, text)


def redact(text: str) -> str:
    """`text` with every secret the service handles (link tokens, bot tokens, URL passwords) blanked."""
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


class RedactSecrets(logging.Filter):
    """Blanks secrets in a record before any formatter sees it: message, arguments, fields, traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):  # uvicorn's access lines format their arguments themselves: keep the shape
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: redact(v) if isinstance(v, str) else v for k, v in record.args.items()}
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            record.fields = {k: redact(v) if isinstance(v, str) else v for k, v in fields.items()}
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def log_event(event: str, *, level: int = logging.INFO, exc_info: bool = False, **fields: Any) -> None:
    """Log one event with its fields (None values are left out); `exc_info` adds the current traceback."""
    logger.log(level, event, exc_info=exc_info,
               extra={"event": event, "fields": {k: v for k, v in fields.items() if v is not None}})


class TextFormatter(logging.Formatter):
    """`2026-11-28T07:00:01Z INFO  poll source=arxiv status=ok new=12`: logfmt, quoted where needed."""

    def format(self, record: logging.LogRecord) -> str:
        fields = getattr(record, "fields", {})
        parts = [_timestamp(record), f"{record.levelname:<5}", getattr(record, "event", record.getMessage())]
        parts += [f"{key}={_quote(value)}" for key, value in fields.items()]
        line = " ".join(parts)
        if record.exc_text or record.exc_info:
            line += "\n" + (record.exc_text or self.formatException(record.exc_info))
        return redact(line)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, event, and the event's fields."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {"time": _timestamp(record), "level": record.levelname.lower(),
                                "event": getattr(record, "event", record.getMessage()),
                                **getattr(record, "fields", {})}
        if record.exc_text or record.exc_info:
            data["traceback"] = record.exc_text or self.formatException(record.exc_info)
        return redact(json.dumps(data, ensure_ascii=False, default=str))


def setup_logging(fmt: str = "text", *, stream: IO[str] | None = None, level: int = logging.INFO) -> None:
    """Send paperpost's events to `stream` (stderr) in `fmt`; libraries only speak up on warnings.

    Call it after building a uvicorn server: uvicorn sets up its own logging when configured.
    """
    if fmt not in FORMATS:
        raise ValueError(f"log format {fmt!r}: use one of {', '.join(FORMATS)}")
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(RedactSecrets())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.WARNING)  # APScheduler, httpx, uvicorn: their routine chatter is not an event
    logger.setLevel(level)
    for name in (LOGGER_NAME, "uvicorn", "uvicorn.error", "uvicorn.access"):
        # uvicorn installs its own handlers and format (and the web server one for us, see
        # subscribers/web/server.py): route every line through ours, one format per process.
        library = logging.getLogger(name)
        library.handlers.clear()
        library.propagate = True
    logging.getLogger("uvicorn.error").setLevel(logging.INFO)  # "Uvicorn running on ..." is worth a line
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)  # a line per request is the proxy's job
    # A wake-up of a job that is already running is skipped with a warning: routine here, not news.
    logging.getLogger("apscheduler").setLevel(logging.ERROR)


def _timestamp(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _quote(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value.tzinfo else value.isoformat()
    text = str(value)
    if text == "" or any(c in text for c in ' "=\n\t'):
        return json.dumps(text, ensure_ascii=False)
    return text
