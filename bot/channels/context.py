"""What composing a message on any channel needs: settings, templates, signed links, the clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bot.config import Config
from bot.digest.assembly import DigestLinks
from bot.digest.rendering import Renderer
from bot.tokens import Tokens


@dataclass(frozen=True)
class MailContext:
    """What composing a message needs: settings, templates, link signing, the clock."""

    config: Config
    renderer: Renderer
    tokens: Tokens
    clock: Callable[[], datetime]

    def link(self, purpose: str, subscriber_id: int, email: str) -> str:
        return f"{self.config.base_url}/{purpose}/{self.tokens.make(purpose, subscriber_id, email)}"  # type: ignore[arg-type]


def digest_links(ctx: MailContext, subscriber_id: int, email: str) -> DigestLinks:
    return DigestLinks(manage=ctx.link("manage", subscriber_id, email),
                       unsubscribe=ctx.link("unsubscribe", subscriber_id, email),
                       view=ctx.link("digest", subscriber_id, email))


def list_headers(ctx: MailContext, unsubscribe_url: str) -> dict[str, str]:
    """List-Id and one-click unsubscribe headers (RFC 2369, RFC 8058)."""
    domain = ctx.config["PAPERPOST_MAIL_FROM"].rpartition("@")[2].strip("> ") or "paperpost.localhost"
    targets = [f"<{unsubscribe_url}>"]
    if ctx.config["PAPERPOST_UNSUBSCRIBE_MAILTO"]:
        targets.append(f"<mailto:{ctx.config['PAPERPOST_UNSUBSCRIBE_MAILTO']}?subject=unsubscribe>")
    return {"List-Id": f"paperpost digests <digest.{domain}>", "List-Unsubscribe": ", ".join(targets),
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
