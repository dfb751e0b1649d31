"""The Telegram channel, built from the settings: a paced sender on the process's bot bridge, and the composers
of kinds `alert` and `digest`. No token: no channel (Telegram rows stay queued for a process that has one)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from bot.channels.channel import Channel, Composer
from bot.channels.telegram.bridge import BotBridge
from bot.channels.telegram.composers import compose_alert
from bot.channels.telegram.folder import FolderSender
from bot.channels.telegram.sender import TelegramSender
from bot.config import Config
from bot.store import Database

NAME = "telegram"
COMPOSERS: Mapping[str, Composer] = {"alert": compose_alert, "digest": compose_alert}


def build_bridge(config: Config) -> BotBridge | None:
    """The bot of this process (None without PAPERPOST_TELEGRAM_TOKEN); started on first use."""
    token = config["PAPERPOST_TELEGRAM_TOKEN"]
    if not token:
        return None
    return BotBridge(token, config["PAPERPOST_TELEGRAM_API_URL"], connections=config["PAPERPOST_TELEGRAM_CONNECTIONS"],
                     timeout=float(config["PAPERPOST_TELEGRAM_TIMEOUT"]))


def telegram_channel(config: Config, db: Database, bridge: BotBridge | None, *,
                     folder: Path | None = None) -> Channel | None:
    """The Telegram channel of this process, or None when no token is set; `folder`: write .txt files (the demo)."""
    if folder is not None:
        return Channel(NAME, FolderSender(folder), COMPOSERS)  # type: ignore[arg-type]
    if bridge is None:
        return None
    sender = TelegramSender(bridge, db, rate=config["PAPERPOST_TELEGRAM_RATE"],
                            connections=config["PAPERPOST_TELEGRAM_CONNECTIONS"])
    return Channel(NAME, sender, COMPOSERS)  # type: ignore[arg-type]
