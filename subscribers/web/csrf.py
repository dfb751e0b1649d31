"""CSRF protection for the forms: a signed double-submit token (a random cookie, its HMAC in the form)."""

from __future__ import annotations

import hashlib
import hmac
import secrets

COOKIE = "pp_csrf"
FIELD = "csrf"


class Csrf:
    """Makes the form token for a cookie nonce and checks a submitted pair.

    The cookie alone proves nothing (a sibling domain can set cookies), the form
    value alone neither; only a form value that is the server's HMAC of the cookie
    sent with the same request passes.
    """

    def __init__(self, secret: str, *, secure: bool):
        self._key = hashlib.sha256(f"paperpost.csrf:{secret}".encode()).digest()
        self.secure = secure

    @staticmethod
    def new_nonce() -> str:
        return secrets.token_urlsafe(24)

    def token_for(self, nonce: str) -> str:
        return hmac.new(self._key, nonce.encode(), hashlib.sha256).hexdigest()

    def valid(self, nonce: str | None, token: str | None) -> bool:
        if not nonce or not token or len(nonce) > 100 or len(token) > 100:
            return False
        return hmac.compare_digest(self.token_for(nonce), token)

    def cookie_options(self) -> dict[str, object]:
        return {"httponly": True, "samesite": "lax", "secure": self.secure, "path": "/"}
