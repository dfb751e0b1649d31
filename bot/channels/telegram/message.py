"""A Telegram message as the sender gets it (pure data): parts of HTML text, each with its buttons and papers."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Button:
    """An inline button: a link (`url`), or a press the bot answers (`callback` data, under 64 bytes)."""

    text: str
    url: str = ""
    callback: str = ""


@dataclass(frozen=True)
class Part:
    """One sendMessage: HTML text under Telegram's limit, its inline keyboard, and the papers it carries."""

    html: str
    buttons: tuple[tuple[Button, ...], ...] = ()
    paper_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class TelegramMessage:
    """What one outbox row sends: the parts not delivered yet (none: all went before a crash, nothing to do)."""

    outbox_id: int
    subscriber_id: int
    chat_id: str
    parts: tuple[Part, ...]
    kind: str = "alert"
