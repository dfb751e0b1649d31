"""A channel as the delivery engine sees it: a name, a sender that returns Outcomes, composers keyed by kind.

The engine (bot/jobs/send.py) claims only the (channel, kind) pairs some
registered channel has a composer for, so a kind this process cannot write
stays queued for one that can. Channel-specific bookkeeping (email's bounce
count) comes in as the two optional hooks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy.orm import Session

from bot.channels.context import MailContext
from bot.channels.outcomes import Outcome
from bot.store.outbox import OutboxItem

# A composer turns a claimed row into a message for its channel's sender, or None when it must not be sent any more.
Composer = Callable[[Session, OutboxItem, MailContext], Any]
# The same for one row of a batch whose data was loaded beforehand: no database.
RowComposer = Callable[[OutboxItem], Any]


class BatchComposer(Protocol):
    """A composer that can also load a whole claim at once (the engine prefers this path)."""

    def __call__(self, session: Session, item: OutboxItem, ctx: MailContext) -> Any: ...

    def prepare(self, session: Session, items: list[OutboxItem], ctx: MailContext) -> RowComposer: ...


class Sender(Protocol):
    """Delivers one composed message and says what happened; never raises for an undeliverable message."""

    @property
    def parallelism(self) -> int: ...

    def send(self, message: Any) -> Outcome: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Channel:
    """One delivery channel of this process.

    `after_sent(session, item)` runs in the transaction that records a delivery;
    `after_permanent(session, item, outcome)` in the one that records a permanent
    failure, and may escalate it (email: the bounce limit reached is recipient_gone).
    """

    name: str
    sender: Sender
    composers: Mapping[str, Composer] = field(default_factory=dict)
    after_sent: Callable[[Session, OutboxItem], None] | None = None
    after_permanent: Callable[[Session, OutboxItem, Outcome], Outcome] | None = None

    @property
    def kinds(self) -> list[tuple[str, str]]:
        """The (channel, kind) pairs this channel can compose: what the engine may claim for it."""
        return [(self.name, kind) for kind in self.composers]
