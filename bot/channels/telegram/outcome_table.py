"""What each python-telegram-bot error means for the message: one table, walked row by row by the tests.

The most specific class comes first (BadRequest and TimedOut are NetworkErrors).
ChatMigrated and RetryAfter are handled by the sender before this table (it follows
the new chat id, and holds the chat for retry_after), then mapped here.
"""

from __future__ import annotations

import warnings
from datetime import timedelta

from telegram import error

from bot.channels.outcomes import Kind, Outcome

# (error class, outcome kind, why)
TELEGRAM_OUTCOMES: tuple[tuple[type[error.TelegramError], Kind, str], ...] = (
    (error.RetryAfter, "retry_after", "429: Telegram asks to wait retry_after seconds for this chat"),
    (error.ChatMigrated, "retry_after", "the group became a supergroup: sent again to its new id"),
    (error.Forbidden, "recipient_gone", "403: the bot was blocked, kicked, or the user deactivated"),
    (error.InvalidToken, "unavailable", "401/404: PAPERPOST_TELEGRAM_TOKEN is wrong; nothing can be sent"),
    (error.BadRequest, "permanent", "400: Telegram refuses this message; retrying cannot help"),
    (error.TimedOut, "retry_after", "no answer in time (Telegram may have it: it may arrive twice)"),
    (error.Conflict, "retry_after", "409: another consumer; try again"),
    (error.NetworkError, "retry_after", "the connection failed or Telegram answered 5xx"),
    (error.TelegramError, "retry_after", "another Telegram error"),
)


def retry_seconds(exc: error.RetryAfter) -> float:
    """RetryAfter's wait in seconds (an int or a timedelta, depending on the library's setting)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def telegram_outcome(exc: error.TelegramError) -> Outcome:
    """The outcome of a failed send: the first row of TELEGRAM_OUTCOMES whose class `exc` is."""
    for cls, kind, _why in TELEGRAM_OUTCOMES:
        if isinstance(exc, cls):
            reason = f"telegram: {exc.__class__.__name__}: {exc.message}"
            seconds = retry_seconds(exc) if isinstance(exc, error.RetryAfter) else None
            return Outcome(kind, reason, seconds)
    raise AssertionError("TelegramError is the last row")  # pragma: no cover
