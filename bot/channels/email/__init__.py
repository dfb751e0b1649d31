"""The email channel: composers (digest, confirm), senders (SMTP, the outbox folder, DKIM) and their outcome table."""

from typing import Protocol

from bot.channels.email.mime import Envelope
from bot.channels.outcomes import Outcome


class Mailer(Protocol):
    """Takes an Envelope and delivers it; what happened comes back as an Outcome (never raised)."""

    def send(self, envelope: Envelope) -> Outcome: ...

    def close(self) -> None: ...
