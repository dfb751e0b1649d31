"""The email channel, built from the settings: its sender (SMTP or the outbox folder, DKIM-signed when a key is
set, paced across processes), its composers (digest, confirm) and its bounce bookkeeping."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy.orm import Session

from bot.channels.channel import Channel, Composer
from bot.channels.email import Mailer
from bot.channels.email.confirm_mail import compose_confirm
from bot.channels.email.digest_mail import compose_digest
from bot.channels.email.folder import FolderMailer
from bot.channels.outcomes import Outcome, recipient_gone
from bot.config import Config
from bot.store import Database, subscribers
from bot.store.outbox import OutboxItem

NAME = "email"
COMPOSERS: Mapping[str, Composer] = {"digest": compose_digest, "confirm": compose_confirm}


def build_mailer(config: Config, db: Database | None = None) -> Mailer:
    """SMTP when PAPERPOST_SMTP_URL is set, else .eml files in the outbox folder; DKIM-signed when a key is set.

    With a database, PAPERPOST_SMTP_RATE is shared by every sender process on it.
    """
    smtp_url = config["PAPERPOST_SMTP_URL"]
    mailer: Mailer
    if smtp_url:
        from bot.channels.email.smtp import SmtpMailer

        rate = config["PAPERPOST_SMTP_RATE"]
        pacer = None
        if db is not None and rate > 0:
            from bot.channels.rate import SharedRate

            pacer = SharedRate(db, NAME, rate)
        mailer = SmtpMailer.from_url(smtp_url, connections=config["PAPERPOST_SMTP_CONNECTIONS"], rate=rate,
                                     timeout=config["PAPERPOST_SMTP_TIMEOUT"], pacer=pacer)
    else:
        mailer = FolderMailer(config.outbox_dir)
    if config["PAPERPOST_DKIM_KEY_FILE"]:
        from bot.channels.email.dkim import DkimKey, SigningMailer

        key = DkimKey.from_settings(config["PAPERPOST_DKIM_KEY_FILE"], config["PAPERPOST_DKIM_SELECTOR"],
                                    config["PAPERPOST_DKIM_DOMAIN"], config["PAPERPOST_MAIL_FROM"])
        mailer = SigningMailer(mailer, key)
    return mailer


@dataclass(frozen=True)
class Bounces:
    """Email's bookkeeping: a delivery clears the count of bounces in a row; a permanent failure adds one."""

    limit: int

    def cleared(self, session: Session, item: OutboxItem) -> None:
        subscribers.clear_bounces(session, item.subscriber_id)

    def counted(self, session: Session, item: OutboxItem, outcome: Outcome) -> Outcome:
        """Count the bounce; at the limit the address is gone (recipient_gone: email off, Telegram stays)."""
        person = subscribers.record_bounce(session, item.subscriber_id, self.limit)
        if person is not None and person.email_state == "off":
            return recipient_gone(person.email_reason or outcome.reason)
        return outcome


def email_channel(config: Config, db: Database | None = None, *, mailer: Mailer | None = None,
                  extra_composers: Mapping[str, Composer] | None = None) -> Channel:
    """The email channel of this process (a new sender each time: close it after the pass)."""
    bounces = Bounces(config["PAPERPOST_BOUNCE_LIMIT"])
    return Channel(NAME, mailer if mailer is not None else build_mailer(config, db),  # type: ignore[arg-type]
                   {**COMPOSERS, **(extra_composers or {})}, after_sent=bounces.cleared, after_permanent=bounces.counted)
