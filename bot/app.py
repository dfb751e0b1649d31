"""Wiring: builds the adapters (database, HTTP client, mailer, templates, tokens) from the settings.

The one place that knows which concrete adapter serves which setting; entry
points (the CLI, the worker, the web server) ask it for what they need.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from datetime import datetime, timezone
from functools import cached_property

import httpx

from bot import __version__
from bot.channels.channel import Channel, Composer
from bot.channels.context import MailContext
from bot.channels.email import Mailer
from bot.channels.email.channel import build_mailer, email_channel
from bot.channels.telegram.bridge import BotBridge
from bot.channels.telegram.channel import build_bridge, telegram_channel
from bot.config import Config, require_secret_key
from bot.digest.rendering import Renderer
from bot.jobs.poll import Poller
from bot.sources.fetch import HostPacer, user_agent
from bot.store import Database, open_database
from bot.tokens import Tokens


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class App:
    """Lazily built adapters for one process; `close()` releases them."""

    def __init__(self, config: Config, clock: Callable[[], datetime] = utcnow):
        self.config = config
        self.clock = clock
        self.extra_composers: dict[str, Composer] = {}  # more email composers (tests, plug-ins); digest and confirm are built in
        # Handles one Telegram update (the chat commands); set by the entry point that wires subscribers in.
        self.update_handler: Callable[[Any], None] | None = None
        self.telegram_to_folder = False  # the demo: Telegram messages become .txt files in the outbox folder

    @cached_property
    def db(self) -> Database:
        return open_database(self.config.database_url)

    @cached_property
    def renderer(self) -> Renderer:
        return Renderer()

    @cached_property
    def tokens(self) -> Tokens:
        return Tokens(require_secret_key(self.config))

    @cached_property
    def http(self) -> httpx.Client:
        return httpx.Client()

    @cached_property
    def poller(self) -> Poller:
        return Poller(client=self.http, user_agent=user_agent(__version__, self.config.base_url), clock=self.clock,
                      pacer=HostPacer(), default_interval=self.config["PAPERPOST_POLL_INTERVAL"])

    @cached_property
    def telegram(self) -> BotBridge | None:
        """This process's Telegram bot (None without PAPERPOST_TELEGRAM_TOKEN), shared by senders and commands."""
        return build_bridge(self.config)

    @cached_property
    def mail_context(self) -> MailContext:
        return MailContext(self.config, self.renderer, self.tokens, self.clock)

    def channels(self) -> list[Channel]:
        """This process's delivery channels with fresh senders: close them (`close_channels`) after the pass."""
        return [channel for make in CHANNELS if (channel := make(self)) is not None]

    def email_channel(self, mailer: Mailer | None = None) -> Channel:
        """The email channel alone, optionally on a given mailer (tests and the benchmark)."""
        return email_channel(self.config, self.db, mailer=mailer, extra_composers=self.extra_composers)

    def mailer(self) -> Mailer:
        """SMTP when PAPERPOST_SMTP_URL is set (its rate shared through the database), else the outbox folder."""
        return build_mailer(self.config, self.db)

    @staticmethod
    def close_channels(channels: list[Channel]) -> None:
        for channel in channels:
            channel.sender.close()

    def close(self) -> None:
        if "http" in self.__dict__:
            self.http.close()
        if self.__dict__.get("telegram") is not None:
            self.telegram.close()
        if "db" in self.__dict__:
            self.db.dispose()


# The delivery channels of every process, each built for one send pass (None: not configured here).
# A channel joins with one entry.
CHANNELS: tuple[Callable[[App], Channel | None], ...] = (
    lambda app: email_channel(app.config, app.db, extra_composers=app.extra_composers),
    lambda app: telegram_channel(app.config, app.db, app.telegram,
                                 folder=app.config.outbox_dir if app.telegram_to_folder else None),
)
