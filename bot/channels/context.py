"""What composing a message on any channel needs: settings, templates, signed links, the clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bot.config import Config
from bot.digest.assembly import DigestLinks
from bot.digest.rendering import Renderer
from bot.models import Subscriber
from bot.tokens import Purpose, Tokens


@dataclass(frozen=True)
class MailContext:
    """What composing a message needs: settings, templates, link signing, the clock."""

    config: Config
    renderer: Renderer
    tokens: Tokens
    clock: Callable[[], datetime]

    def link(self, purpose: Purpose, person: Subscriber) -> str:
        """An absolute signed link for `person` (current token version; works for chat-only people too)."""
        return f"{self.config.base_url}/{purpose}/{self.tokens.make(purpose, person)}"


def digest_links(ctx: MailContext, person: Subscriber) -> DigestLinks:
    """The links of one digest; `vote` is one signed link that every paper's vote links extend."""
    return DigestLinks(manage=ctx.link("manage", person), unsubscribe=ctx.link("unsubscribe", person),
                       view=ctx.link("digest", person), vote=ctx.link("vote", person))


def list_headers(ctx: MailContext, unsubscribe_url: str) -> dict[str, str]:
    """List-Id and one-click unsubscribe headers (RFC 2369, RFC 8058)."""
    domain = ctx.config["PAPERPOST_MAIL_FROM"].rpartition("@")[2].strip("> ") or "paperpost.localhost"
    targets = [f"<{unsubscribe_url}>"]
    if ctx.config["PAPERPOST_UNSUBSCRIBE_MAILTO"]:
        targets.append(f"<mailto:{ctx.config['PAPERPOST_UNSUBSCRIBE_MAILTO']}?subject=unsubscribe>")
    return {"List-Id": f"paperpost digests <digest.{domain}>", "List-Unsubscribe": ", ".join(targets),
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
