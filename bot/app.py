"""Wiring: builds the adapters (database, HTTP client, mailer, templates, tokens) from the settings.

The one place that knows which concrete adapter serves which setting; entry
points (the CLI, the worker, the web server) ask it for what they need.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from functools import cached_property

import httpx

from bot import __version__
from bot.config import Config, require_secret_key
from bot.channels.email import Mailer
from bot.channels.email.folder import FolderMailer
from bot.sources.fetch import HostPacer, user_agent
from bot.jobs.poll import Poller
from bot.digest.rendering import Renderer
from bot.jobs.send import Composer, MailContext, compose_digest
from bot.store import Database, open_database
from bot.tokens import Tokens


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class App:
    """Lazily built adapters for one process; `close()` releases them."""

    def __init__(self, config: Config, clock: Callable[[], datetime] = utcnow):
        self.config = config
        self.clock = clock
        self.extra_composers: dict[str, Composer] = {}

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
    def mail_context(self) -> MailContext:
        return MailContext(self.config, self.renderer, self.tokens, self.clock)

    @property
    def composers(self) -> dict[str, Composer]:
        return {"digest": compose_digest, **self.extra_composers}

    def mailer(self) -> Mailer:
        """SMTP when PAPERPOST_SMTP_URL is set, else .eml files in the outbox folder; DKIM-signed when a key is set."""
        smtp_url = self.config["PAPERPOST_SMTP_URL"]
        mailer: Mailer
        if smtp_url:
            from bot.channels.email.smtp import SmtpMailer

            mailer = SmtpMailer.from_url(smtp_url, connections=self.config["PAPERPOST_SMTP_CONNECTIONS"],
                                         rate=self.config["PAPERPOST_SMTP_RATE"], timeout=self.config["PAPERPOST_SMTP_TIMEOUT"])
        else:
            mailer = FolderMailer(self.config.outbox_dir)
        if self.config["PAPERPOST_DKIM_KEY_FILE"]:
            from bot.channels.email.dkim import DkimKey, SigningMailer

            key = DkimKey.from_settings(self.config["PAPERPOST_DKIM_KEY_FILE"], self.config["PAPERPOST_DKIM_SELECTOR"],
                                        self.config["PAPERPOST_DKIM_DOMAIN"], self.config["PAPERPOST_MAIL_FROM"])
            mailer = SigningMailer(mailer, key)
        return mailer

    def close(self) -> None:
        if "http" in self.__dict__:
            self.http.close()
        if "db" in self.__dict__:
            self.db.dispose()
