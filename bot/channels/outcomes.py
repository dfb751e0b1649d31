"""What a channel's sender says happened to one message (pure): sent, retry later, permanent, gone, unavailable.

A sender never raises for a message it could not deliver: it maps the
library's errors to one of these at the edge (for email: one table in
bot/channels/email/outcome_table.py), and the engine (bot/jobs/send.py) turns
the outcome into the row's next state:

- `sent`: the row is `sent`.
- `retry_after(seconds)`: `failed` with a retry time (`seconds`, or the engine's
  backoff when None); final after the policy's last attempt.
- `permanent(reason)`: `failed` for good; for email it counts a bounce.
- `recipient_gone(reason)`: `failed` for good and this channel is turned off for
  the subscriber (the other channels stay on).
- `unavailable(reason)`: nothing was sent; the engine stops this channel and
  hands the rows it holds back untouched (`queued`, the reason noted).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["sent", "retry_after", "permanent", "recipient_gone", "unavailable"]
KINDS: tuple[Kind, ...] = ("sent", "retry_after", "permanent", "recipient_gone", "unavailable")


@dataclass(frozen=True)
class Outcome:
    """One message's result; `seconds` only for retry_after (None: the engine's backoff)."""

    kind: Kind
    reason: str = ""
    seconds: float | None = None

    def __str__(self) -> str:
        return self.kind + (f": {self.reason}" if self.reason else "")


SENT = Outcome("sent")


def sent() -> Outcome:
    return SENT


def retry_after(seconds: float | None, reason: str) -> Outcome:
    """Try again later: after `seconds`, or on the engine's backoff when None."""
    return Outcome("retry_after", reason, seconds)


def permanent(reason: str) -> Outcome:
    """This message will never go through; retrying cannot help."""
    return Outcome("permanent", reason)


def recipient_gone(reason: str) -> Outcome:
    """The recipient cannot be reached on this channel any more (chat blocked, address dead): turn it off."""
    return Outcome("recipient_gone", reason)


def unavailable(reason: str) -> Outcome:
    """Nothing can be sent on this channel now (server down, login refused): stop and hand the rows back."""
    return Outcome("unavailable", reason)
