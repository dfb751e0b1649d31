"""DKIM signing (dkimpy): a Mailer that adds a DKIM-Signature to every message, then hands it to the real sender.

Named `signing`, not `dkim`, so that it never shadows the dependency it wraps.
The signature covers the contract headers, the one-click unsubscribe headers
included (a relay that altered them would break it), and the body; relaxed
canonicalisation on both, so a relay that rewraps header whitespace or strips
trailing spaces does not break it either.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from email.utils import parseaddr
from pathlib import Path

import dkim
from dkim.crypto import UnparsableKeyError, parse_pem_private_key

from bot.channels.email.mime import Envelope
from bot.channels.email import Mailer
from bot.channels.email.outcome_table import email_outcome
from bot.channels.outcomes import Outcome
from bot.errors import ConfigError

SIGNED_HEADERS = (b"From", b"To", b"Subject", b"Date", b"Message-ID", b"List-Id", b"List-Unsubscribe",
                  b"List-Unsubscribe-Post", b"MIME-Version", b"Content-Type")


@dataclass(frozen=True)
class DkimKey:
    """A private key and where its public half is published: SELECTOR._domainkey.DOMAIN."""

    selector: str
    domain: str
    private_key: bytes

    @classmethod
    def from_settings(cls, key_file: str, selector: str, domain: str, mail_from: str) -> DkimKey:
        """Read and check the PEM key now, so that a bad key stops the start, not every message."""
        path = Path(key_file).expanduser()
        try:
            pem = path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"cannot read the DKIM key PAPERPOST_DKIM_KEY_FILE={key_file!r} ({exc.strerror}); "
                              "give the path of a PEM private key, or unset it to send unsigned mail.") from exc
        try:
            parse_pem_private_key(pem)
        except (UnparsableKeyError, ValueError, IndexError) as exc:
            raise ConfigError(f"PAPERPOST_DKIM_KEY_FILE={key_file!r} is not a PEM RSA private key ({exc}); "
                              "generate one with `openssl genrsa -out dkim.pem 2048`.") from exc
        domain = domain or parseaddr(mail_from)[1].rpartition("@")[2]
        if not domain or not selector:
            raise ConfigError("DKIM needs a domain and a selector: set PAPERPOST_DKIM_DOMAIN (or a PAPERPOST_MAIL_FROM "
                              "with a domain) and PAPERPOST_DKIM_SELECTOR.")
        return cls(selector, domain, pem)

    def sign(self, data: bytes) -> bytes:
        """`data` with a DKIM-Signature header in front (raises dkim.DKIMException)."""
        header = dkim.sign(data, self.selector.encode("ascii"), self.domain.encode("idna"), self.private_key,
                           canonicalize=(b"relaxed", b"relaxed"), include_headers=list(SIGNED_HEADERS))
        return header + data


class SigningMailer:
    """Signs each envelope with `key`, then sends it through `inner` (SMTP or the outbox folder)."""

    def __init__(self, inner: Mailer, key: DkimKey):
        self.inner = inner
        self.key = key

    @property
    def parallelism(self) -> int:
        return getattr(self.inner, "parallelism", 1)

    def send(self, envelope: Envelope) -> Outcome:
        try:
            signed = self.key.sign(envelope.data)
        except dkim.DKIMException as exc:
            return email_outcome("sign", detail=str(exc))
        return self.inner.send(replace(envelope, data=signed))

    def close(self) -> None:
        self.inner.close()
