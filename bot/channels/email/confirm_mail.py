"""The confirmation mail of double opt-in: the composer for outbox kind "confirm"."""

from __future__ import annotations

from sqlalchemy.orm import Session

from bot.channels.email.mime import Envelope, build_email
from bot.channels.context import MailContext
from bot.store import subscribers
from bot.store.outbox import OutboxItem
from bot.tokens import CONFIRM_MAX_AGE

CONFIRM_SUBJECT = "Confirm your paperpost subscription"


def compose_confirm(session: Session, item: OutboxItem, ctx: MailContext) -> Envelope | None:
    """The mail with the confirm link; None once the address is confirmed, gone, unsubscribed or off.

    Also the mail for an address a chat-only subscriber added (off until confirmed).
    """
    person = subscribers.get_subscriber(session, item.subscriber_id)
    if person is None or person.email is None:
        return None
    added = person.status == "active" and not person.email_on and person.email_reason == subscribers.EMAIL_UNCONFIRMED
    if not added and (person.status != "pending" or not person.email_on):
        return None
    # Nothing typed into the form is repeated here: anyone can type anyone's address, and a mail that
    # quoted their text would carry a stranger's message ("your account is locked, visit ...") in our name.
    count = len(person.interests)
    context = {"person": person, "confirm_url": ctx.link("confirm", person),
               "interest_count": f"{count} interest{'s' if count != 1 else ''}",
               "valid_days": CONFIRM_MAX_AGE // 86400, "base_url": ctx.config.base_url,
               "postal_address": ctx.config["PAPERPOST_POSTAL_ADDRESS"], "subject": CONFIRM_SUBJECT}
    text, html = ctx.renderer.render_email("confirm", **context)
    return build_email(outbox_id=item.id, kind=item.kind, mail_from=ctx.config["PAPERPOST_MAIL_FROM"],
                       to=person.email, subject=CONFIRM_SUBJECT, text=text, html=html, date=ctx.clock())
