"""The Telegram composers: outbox kinds `alert` (instant mode; one paper, or several as one grouped message) and
`digest` (daily mode: one message a day), both from the matches the row carries.

A claim is loaded at once (subscribers, matches, papers, the papers already delivered),
so composing a row touches no database. Papers a crashed or retried attempt delivered
already are left out; a row with nothing left gives a message with no parts (sent).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from bot.channels.channel import RowComposer
from bot.channels.context import MailContext
from bot.channels.email.digest_mail import DigestBatch
from bot.channels.telegram.alert_text import alert_parts
from bot.channels.telegram.message import TelegramMessage
from bot.digest.evidence import with_hits
from bot.digest.ranking import rank
from bot.models import Match, Paper, Subscriber
from bot.store import telegram_state
from bot.store.outbox import OutboxItem

DAILY_HEADING = "Your papers of the day: {count}"


def can_receive(person: Subscriber | None) -> bool:
    """Active, with a chat that is on and that wrote /start (an operator-added chat gets nothing before)."""
    return (person is not None and person.status == "active" and person.telegram_on and person.telegram_started)


@dataclass(frozen=True)
class AlertBatch:
    people: dict[int, Subscriber]
    carried: dict[int, list[Match]]
    papers: dict[str, Paper]
    delivered: dict[int, set[str]]

    @classmethod
    def load(cls, session: Session, items: Iterable[OutboxItem]) -> AlertBatch:
        """What the digests of a claim need (the same few queries), and the papers already delivered."""
        items = list(items)
        loaded = DigestBatch.load(session, items, cap=0)  # the digests' explanations are not needed here
        return cls(loaded.people, _with_hits(loaded.carried, loaded.papers), loaded.papers,
                   telegram_state.sent_papers(session, [i.id for i in items]))

    def compose(self, item: OutboxItem) -> TelegramMessage | None:
        """The message for `item` (its undelivered papers), or None when it must not be sent any more."""
        person = self.people.get(item.subscriber_id)
        if not can_receive(person):
            return None
        assert person is not None and person.telegram_chat_id is not None
        carried = [m for m in self.carried.get(item.id, []) if m.paper_id in self.papers]
        if not carried:
            return None  # its papers were pruned, or nothing was attached
        ranked = rank(carried, self.papers)
        delivered = self.delivered.get(item.id, set())
        heading = None
        if item.kind == "digest":
            heading = DAILY_HEADING.format(count=len(ranked))
        elif len(ranked) > 1:
            heading = f"{len(ranked)} new papers for you"
        if delivered:
            heading = (heading or "Your new paper") + " (continued)"
        left = [(self.papers[m.paper_id], m) for m in ranked if m.paper_id not in delivered]
        parts = alert_parts(left, heading=heading) if left else []
        return TelegramMessage(item.id, person.id, person.telegram_chat_id, tuple(parts), item.kind)


def _with_hits(carried: dict[int, list[Match]], papers: dict[str, Paper]) -> dict[int, list[Match]]:
    """Every carried match with its hits (an alert shows every paper it carries, words in bold), found for the
    whole claim at once."""
    filled = iter(with_hits([m for ms in carried.values() for m in ms], papers))
    return {outbox_id: [next(filled) for _ in ms] for outbox_id, ms in carried.items()}


class AlertComposer:
    """Composer of the Telegram kinds: one row from a session, or a whole claim loaded at once."""

    def __call__(self, session: Session, item: OutboxItem, ctx: MailContext) -> TelegramMessage | None:
        return AlertBatch.load(session, [item]).compose(item)

    def prepare(self, session: Session, items: list[OutboxItem], ctx: MailContext) -> RowComposer:
        batch = AlertBatch.load(session, items)
        return batch.compose


compose_alert = AlertComposer()
