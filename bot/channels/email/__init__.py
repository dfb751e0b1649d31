"""Senders: they take an Envelope and deliver it, or raise DeliveryError (temporary or permanent)."""

from typing import Protocol

from bot.channels.email.mime import Envelope


class Mailer(Protocol):
    def send(self, envelope: Envelope) -> None: ...

    def close(self) -> None: ...
