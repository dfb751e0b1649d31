"""Signed links: one namespace per purpose, bound to the subscriber's id and per-subscriber secret, versioned.

Version 2 (minted now): payload `[2, subscriber_id, secret_tag]`; the tag is a hash of
the subscriber's `token_secret`, so a new secret (their data deleted, a row recreated
under a reused id) ends every earlier link, and a chat-only person has links too.

Version 1 (the previous release, still in inboxes): payload `[subscriber_id, email_tag]`,
same salts. It is honoured only for rows that existed before the upgrade, whose secret
the migration made (plain hex), and only until that secret is rotated: secrets made
since carry the `k2.` prefix, which v1 links never match.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Literal

from itsdangerous import BadData, SignatureExpired, URLSafeTimedSerializer

from bot.errors import PaperpostError
from bot.models import Subscriber

Purpose = Literal["confirm", "manage", "unsubscribe", "digest", "telegram", "vote"]
CONFIRM_MAX_AGE = 7 * 24 * 3600
MAX_ID = 2**31 - 1  # the id column is a 32-bit integer on PostgreSQL; larger ids are forgeries
CURRENT_VERSION = 2
_V2_SECRET_PREFIX = "k2."


class BadToken(PaperpostError):
    """A token was tampered with, expired, or is for another purpose or subscriber."""


@dataclass(frozen=True)
class Claim:
    """What a well-signed token says: its version, whose it is, and the tag that binds it to them."""

    version: int
    subscriber_id: int
    tag: str


def new_secret() -> str:
    """A fresh per-subscriber token secret (new rows, and every rotation)."""
    return _V2_SECRET_PREFIX + secrets.token_hex(16)


def _email_tag(email: str) -> str:
    # v1 binding (previous release): the address.
    return hashlib.sha256(email.lower().encode()).hexdigest()[:10]


def _secret_tag(secret: str) -> str:
    # The payload is signed with the server key, so the tag need only differ when the secret does.
    return hashlib.sha256(secret.encode()).hexdigest()[:16]


def _is_id(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_ID


class Tokens:
    """Makes and checks the tokens of every link we send."""

    def __init__(self, secret_key: str):
        self._secret = secret_key

    def _serializer(self, purpose: Purpose) -> URLSafeTimedSerializer:
        return URLSafeTimedSerializer(self._secret, salt=f"paperpost.{purpose}")

    def make(self, purpose: Purpose, person: Subscriber) -> str:
        """A current (v2) token for `person`; they need a token secret (every stored row has one)."""
        if not person.token_secret:
            raise ValueError(f"subscriber #{person.id} has no token secret; run `paperpost db upgrade`")
        return self._serializer(purpose).dumps([CURRENT_VERSION, person.id, _secret_tag(person.token_secret)])

    def make_v1(self, purpose: Purpose, subscriber_id: int, email: str) -> str:
        """A token exactly as the previous release minted it (for tests and upgrade checks; never sent)."""
        return self._serializer(purpose).dumps([subscriber_id, _email_tag(email)])

    def read(self, purpose: Purpose, token: str, max_age: int | None = None) -> Claim:
        """The claim of a valid token of either version; BadToken otherwise (never another exception)."""
        if max_age is None and purpose == "confirm":
            max_age = CONFIRM_MAX_AGE
        try:
            payload = self._serializer(purpose).loads(token, max_age=max_age)
        except SignatureExpired as exc:
            raise BadToken("This link has expired; ask for a new one.") from exc
        except (BadData, ValueError, TypeError) as exc:
            raise BadToken("This link is not valid.") from exc
        claim = _claim(payload)
        if claim is None:
            raise BadToken("This link is not valid.")
        return claim

    @staticmethod
    def belongs_to(claim: Claim, person: Subscriber) -> bool:
        """Whether a claim is `person`'s: v2 by their current secret, v1 by address while the migrated secret lasts."""
        if claim.subscriber_id != person.id or not person.token_secret:
            return False
        if claim.version == 1:
            return (person.email is not None and not person.token_secret.startswith(_V2_SECRET_PREFIX)
                    and _same(claim.tag, _email_tag(person.email)))
        return _same(claim.tag, _secret_tag(person.token_secret))


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())  # bytes: a forged tag may not be ASCII


def _claim(payload: object) -> Claim | None:
    if not isinstance(payload, list):
        return None
    if len(payload) == 2:
        subscriber_id, tag, version = payload[0], payload[1], 1
    elif len(payload) == 3 and payload[0] == CURRENT_VERSION and not isinstance(payload[0], bool):
        version, subscriber_id, tag = payload
    else:
        return None
    if not _is_id(subscriber_id) or not isinstance(tag, str):
        return None
    return Claim(version, subscriber_id, tag)
