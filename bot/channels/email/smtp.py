"""SMTP delivery: a small pool of reused smtplib connections with TLS, AUTH, timeouts and a rate limit.

Replies map onto our errors: 4xx and connection trouble are temporary
(`DeliveryError(permanent=False)`), 5xx on the recipient or the message is
permanent (a bounce), and a server that cannot be reached or refuses our login
raises `ServerUnavailable` so that the caller stops and leaves the rest queued.
The mailer is thread-safe: up to `connections` threads send at once, each on
its own connection, and idle connections are kept for the next message.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qs, unquote, urlsplit

from bot.channels.email.mime import Envelope
from bot.errors import ConfigError, DeliveryError, ServerUnavailable

Security = Literal["plain", "starttls", "tls"]
_TRUE = {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class SmtpTarget:
    """Where and how to connect, parsed from `PAPERPOST_SMTP_URL`."""

    host: str
    port: int
    security: Security
    username: str | None = None
    password: str | None = None

    @classmethod
    def parse(cls, url: str) -> "SmtpTarget":
        """`smtp://user:pass@host:port?starttls=1` or `smtps://user:pass@host:port` (implicit TLS)."""
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ConfigError(f"PAPERPOST_SMTP_URL {url!r} is not an smtp:// or smtps:// URL with a host; "
                              "write it as smtp://user:pass@host:587?starttls=1 or smtps://user:pass@host:465.")
        query = {k: v[-1].lower() for k, v in parse_qs(parts.query).items()}
        if parts.scheme == "smtps":
            security: Security = "tls"
        else:
            security = "starttls" if query.get("starttls", "") in _TRUE else "plain"
        try:
            port = parts.port or {"tls": 465, "starttls": 587, "plain": 25}[security]
        except ValueError as exc:
            raise ConfigError(f"PAPERPOST_SMTP_URL has a bad port ({exc}); use a number such as 587.") from exc
        return cls(parts.hostname, port, security,
                   unquote(parts.username) if parts.username else None,
                   unquote(parts.password) if parts.password else None)


class RateLimiter:
    """Spaces calls at least 1/rate seconds apart, across threads (rate 0: no limit)."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self._clock, self._sleep = clock, sleep
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        if not self.interval:
            return
        with self._lock:
            now = self._clock()
            slot = max(now, self._next)
            self._next = slot + self.interval
        if slot > now:
            self._sleep(slot - now)  # outside the lock: other threads take the following slots meanwhile


class SmtpMailer:
    """Sends envelopes over SMTP; `send` may be called from up to `connections` threads at once."""

    def __init__(self, target: SmtpTarget, *, connections: int = 1, rate: float = 0.0, timeout: float = 30.0,
                 local_hostname: str | None = None, ssl_context: ssl.SSLContext | None = None):
        self.target = target
        self.connections = max(1, connections)
        self.timeout = timeout
        # smtplib calls socket.getfqdn() on every EHLO without it (milliseconds each): resolve once.
        self.local_hostname = local_hostname or socket.getfqdn()
        self.ssl_context = ssl_context or ssl.create_default_context()
        self.limiter = RateLimiter(rate)
        self._slots = threading.BoundedSemaphore(self.connections)
        self._idle: list[smtplib.SMTP] = []
        self._lock = threading.Lock()
        self.opened = 0  # connections opened so far (tests and the benchmark read it)

    @classmethod
    def from_url(cls, url: str, *, connections: int = 1, rate: float = 0.0, timeout: float = 30.0,
                 local_hostname: str | None = None, ssl_context: ssl.SSLContext | None = None) -> "SmtpMailer":
        """A mailer for `PAPERPOST_SMTP_URL`; nothing connects until the first message."""
        return cls(SmtpTarget.parse(url), connections=connections, rate=rate, timeout=timeout,
                   local_hostname=local_hostname, ssl_context=ssl_context)

    @property
    def parallelism(self) -> int:
        """How many threads may usefully call `send` at once."""
        return self.connections

    def send(self, envelope: Envelope) -> None:
        """Deliver one message, or raise DeliveryError (ServerUnavailable when nothing can be sent now)."""
        with self._slots:
            with self._lock:
                connection = self._idle.pop() if self._idle else None
            self.limiter.wait()
            try:
                connection = self._transmit(connection, envelope)
            except _Failed as failure:
                if failure.reusable:
                    with self._lock:
                        self._idle.append(failure.connection)
                else:
                    _quietly_close(failure.connection)
                raise failure.error from failure.__cause__
            with self._lock:
                self._idle.append(connection)

    def close(self) -> None:
        """QUIT every idle connection."""
        with self._lock:
            idle, self._idle = self._idle, []
        for connection in idle:
            try:
                connection.quit()
            except (OSError, smtplib.SMTPException):
                _quietly_close(connection)

    def _open(self) -> smtplib.SMTP:
        target = self.target
        where = f"{target.host}:{target.port}"
        try:
            if target.security == "tls":
                connection: smtplib.SMTP = smtplib.SMTP_SSL(target.host, target.port, local_hostname=self.local_hostname,
                                                            timeout=self.timeout, context=self.ssl_context)
            else:
                connection = smtplib.SMTP(target.host, target.port, local_hostname=self.local_hostname,
                                          timeout=self.timeout)
            connection.ehlo()
            if target.security == "starttls":
                connection.starttls(context=self.ssl_context)
                connection.ehlo()
            if target.username:
                connection.login(target.username, target.password or "")
        except smtplib.SMTPAuthenticationError as exc:
            raise ServerUnavailable(f"the SMTP server {where} refused our login ({exc.smtp_code}); "
                                    "check the user and password in PAPERPOST_SMTP_URL.") from exc
        except smtplib.SMTPNotSupportedError as exc:
            raise ServerUnavailable(f"the SMTP server {where} does not offer {exc}; "
                                    "check starttls= and the scheme of PAPERPOST_SMTP_URL.") from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise ServerUnavailable(f"cannot reach the SMTP server {where} ({exc.__class__.__name__}: {exc}); "
                                    "check PAPERPOST_SMTP_URL and that the server is up; the mail stays queued.") from exc
        self.opened += 1
        return connection

    def _transmit(self, connection: smtplib.SMTP | None, envelope: Envelope) -> smtplib.SMTP:
        """MAIL, RCPT, DATA on `connection` (or a new one); the connection to reuse is returned."""
        if connection is not None:
            try:
                code, reply = connection.mail(envelope.sender)
            except (OSError, smtplib.SMTPServerDisconnected):
                # The server closed an idle pooled connection: nothing was sent, so reconnecting is safe.
                _quietly_close(connection)
                connection = None
        if connection is None:
            connection = self._open()
            code, reply = self._step(connection, lambda: connection.mail(envelope.sender), "MAIL FROM")
        self._check(connection, code, reply, "sender", permanent=False, refused_means="check PAPERPOST_MAIL_FROM")
        code, reply = self._step(connection, lambda: connection.rcpt(envelope.recipient), "RCPT TO")
        self._check(connection, code, reply, f"recipient {envelope.recipient}", permanent=code >= 500)
        # A connection lost after the final dot leaves us not knowing: the retry may duplicate (docs/delivery.md).
        code, reply = self._step(connection, lambda: connection.data(envelope.data), "DATA")
        self._check(connection, code, reply, "message", permanent=code >= 500)
        return connection

    @staticmethod
    def _step(connection: smtplib.SMTP, command: Callable[[], tuple[int, bytes]], name: str) -> tuple[int, bytes]:
        try:
            return command()
        except smtplib.SMTPResponseException as exc:  # DATA refused before the body (smtplib raises)
            return exc.smtp_code, exc.smtp_error if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error).encode()
        except (OSError, smtplib.SMTPException) as exc:
            raise _Failed(connection, DeliveryError(f"connection lost during {name} ({exc.__class__.__name__}: {exc}); "
                                                    "it will be retried")) from exc

    @staticmethod
    def _check(connection: smtplib.SMTP, code: int, reply: bytes, what: str, *, permanent: bool,
               refused_means: str = "") -> None:
        if code in (250, 251):
            return
        text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
        error = DeliveryError(f"{what} refused: {code} {text}" + (f"; {refused_means}" if refused_means else ""),
                              permanent=permanent)
        if code == 421 or code < 200:  # the server is closing the connection (or answered nonsense)
            raise _Failed(connection, error)
        try:
            connection.rset()  # the connection stays usable for the next message
        except (OSError, smtplib.SMTPException) as exc:
            raise _Failed(connection, error) from exc
        raise _Failed(connection, error, reusable=True)


class _Failed(Exception):
    """A refused or failed message, with the connection it happened on and whether it can be reused."""

    def __init__(self, connection: smtplib.SMTP, error: DeliveryError, reusable: bool = False):
        super().__init__(str(error))
        self.connection, self.error, self.reusable = connection, error, reusable


def _quietly_close(connection: smtplib.SMTP) -> None:
    try:
        connection.close()
    except OSError:
        pass
