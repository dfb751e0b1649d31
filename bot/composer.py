"""Email messages (pure): headers and multipart/alternative bodies, as bytes ready for SMTP."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, parseaddr


# Long single-word headers (List-Unsubscribe URLs) must not be folded into RFC 2047 words.
_POLICY = SMTP.clone(max_line_length=998)


@dataclass(frozen=True)
class Envelope:
    """One email ready to go: who it is from and to, its bytes, and an HTML copy for previews."""

    outbox_id: int
    kind: str
    sender: str
    recipient: str
    message_id: str
    data: bytes
    html: str
    subject: str


def message_id_for(outbox_id: int, kind: str, mail_from: str) -> str:
    """A Message-ID on the sender's domain, the same for every attempt at one outbox row."""
    domain = parseaddr(mail_from)[1].rpartition("@")[2] or "paperpost.localhost"
    return f"<{kind}.{outbox_id}@{domain}>"


def build_email(*, outbox_id: int, kind: str, mail_from: str, to: str, subject: str, text: str, html: str,
                date: datetime, headers: dict[str, str] | None = None) -> Envelope:
    """A multipart/alternative (text, then HTML) UTF-8 message with our standard headers."""
    message = EmailMessage(policy=_POLICY)
    message["From"] = mail_from
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(date)
    message_id = message_id_for(outbox_id, kind, mail_from)
    message["Message-ID"] = message_id
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(text, subtype="plain", charset="utf-8")
    message.add_alternative(html, subtype="html", charset="utf-8")
    return Envelope(outbox_id, kind, parseaddr(mail_from)[1], to, message_id, message.as_bytes(), html, subject)
