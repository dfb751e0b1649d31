"""Signed links: one namespace per purpose, bound to the subscriber (id and address)."""

from __future__ import annotations

import hashlib
from typing import Literal

from itsdangerous import BadData, SignatureExpired, URLSafeTimedSerializer

from bot.errors import PaperpostError

Purpose = Literal["confirm", "manage", "unsubscribe", "digest", "telegram"]
CONFIRM_MAX_AGE = 7 * 24 * 3600


class BadToken(PaperpostError):
    """A token was tampered with, expired, or is for another purpose or subscriber."""


def _email_tag(email: str) -> str:
    # Binds the token to the address: a deleted-then-recreated id never reuses old links.
    return hashlib.sha256(email.lower().encode()).hexdigest()[:10]


class Tokens:
    """Makes and checks the tokens of every link we send."""

    def __init__(self, secret_key: str):
        self._secret = secret_key

    def _serializer(self, purpose: Purpose) -> URLSafeTimedSerializer:
        return URLSafeTimedSerializer(self._secret, salt=f"paperpost.{purpose}")

    def make(self, purpose: Purpose, subscriber_id: int, email: str) -> str:
        return self._serializer(purpose).dumps([subscriber_id, _email_tag(email)])

    def read(self, purpose: Purpose, token: str, max_age: int | None = None) -> tuple[int, str]:
        """(subscriber id, address tag) of a valid token; BadToken otherwise."""
        if max_age is None and purpose == "confirm":
            max_age = CONFIRM_MAX_AGE
        try:
            subscriber_id, tag = self._serializer(purpose).loads(token, max_age=max_age)
        except SignatureExpired as exc:
            raise BadToken("This link has expired; ask for a new one.") from exc
        except (BadData, ValueError, TypeError) as exc:
            raise BadToken("This link is not valid.") from exc
        if not isinstance(subscriber_id, int) or not isinstance(tag, str):
            raise BadToken("This link is not valid.")
        return subscriber_id, tag

    @staticmethod
    def belongs_to(tag: str, email: str) -> bool:
        return tag == _email_tag(email)
