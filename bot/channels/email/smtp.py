"""SMTP delivery: a small pool of reused smtplib connections with TLS, AUTH, timeouts and a rate limit.

`send` returns an Outcome and never raises for a message it could not deliver:
each reply or error is located (stage, code) and mapped through the one table
in bot/channels/email/outcome_table.py. The mailer is thread-safe: up to
`connections` threads send at once, each on its own connection, and idle
connections are kept for the next message. The rate limit is a `Pacer`: the
default spaces messages within this process; bot/channels/rate.py shares the
rate with every sender process on the database.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from bot.channels.email.mime import Envelope
from bot.channels.email.outcome_table import Stage, email_outcome
from bot.channels.outcomes import SENT, Outcome
from bot.errors import ConfigError

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


class Pacer(Protocol):
    def wait(self) -> None:
        """Return when the next message may go (sleeping as long as the rate needs)."""


class RateLimiter:
    """Spaces calls at least 1/rate seconds apart, across threads of this process (rate 0: no limit)."""

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
                 local_hostname: str | None = None, ssl_context: ssl.SSLContext | None = None,
                 pacer: Pacer | None = None):
        self.target = target
        self.where = f"{target.host}:{target.port}"
        self.connections = max(1, connections)
        self.timeout = timeout
        # smtplib calls socket.getfqdn() on every EHLO without it (milliseconds each): resolve once.
        self.local_hostname = local_hostname or socket.getfqdn()
        self.ssl_context = ssl_context or ssl.create_default_context()
        self.limiter: Pacer = pacer or RateLimiter(rate)
        self._slots = threading.BoundedSemaphore(self.connections)
        self._idle: list[smtplib.SMTP] = []
        self._lock = threading.Lock()
        self.opened = 0  # connections opened so far (tests and the benchmark read it)

    @classmethod
    def from_url(cls, url: str, *, connections: int = 1, rate: float = 0.0, timeout: float = 30.0,
                 local_hostname: str | None = None, ssl_context: ssl.SSLContext | None = None,
                 pacer: Pacer | None = None) -> "SmtpMailer":
        """A mailer for `PAPERPOST_SMTP_URL`; nothing connects until the first message."""
        return cls(SmtpTarget.parse(url), connections=connections, rate=rate, timeout=timeout,
                   local_hostname=local_hostname, ssl_context=ssl_context, pacer=pacer)

    @property
    def parallelism(self) -> int:
        """How many threads may usefully call `send` at once."""
        return self.connections

    def send(self, envelope: Envelope) -> Outcome:
        """Deliver one message; what happened, as an Outcome (never raises for a refused or lost message)."""
        with self._slots:
            with self._lock:
                connection = self._idle.pop() if self._idle else None
            self.limiter.wait()
            try:
                connection = self._transmit(connection, envelope)
            except _Failed as failure:
                if failure.reusable and failure.connection is not None:
                    with self._lock:
                        self._idle.append(failure.connection)
                elif failure.connection is not None:
                    _quietly_close(failure.connection)
                return email_outcome(failure.stage, failure.code, failure.text, detail=failure.detail,
                                     where=self.where, to=envelope.recipient)
            with self._lock:
                self._idle.append(connection)
        return SENT

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
        connection: smtplib.SMTP | None = None
        stage: Stage = "connect"
        try:
            if target.security == "tls":
                connection = smtplib.SMTP_SSL(target.host, target.port, local_hostname=self.local_hostname,
                                              timeout=self.timeout, context=self.ssl_context)
            else:
                connection = smtplib.SMTP(target.host, target.port, local_hostname=self.local_hostname,
                                          timeout=self.timeout)
            _expect(connection, connection.ehlo(), "connect")
            if target.security == "starttls":
                stage = "starttls"
                if not connection.has_extn("starttls"):
                    raise _Failed("starttls", connection, 502, "STARTTLS not offered")
                _expect(connection, connection.starttls(context=self.ssl_context), "starttls", ok=(220,))
                _expect(connection, connection.ehlo(), "starttls")
            if target.username:
                stage = "login"
                connection.login(target.username, target.password or "")
        except _Failed:
            raise
        except smtplib.SMTPResponseException as exc:  # a refused greeting, STARTTLS or login
            raise _Failed(stage, connection, exc.smtp_code, _text(exc.smtp_error)) from exc
        except (OSError, smtplib.SMTPException) as exc:  # refused, timed out, TLS verification, login not offered
            code = 502 if isinstance(exc, smtplib.SMTPNotSupportedError) else None
            raise _Failed(stage, connection, code, str(exc), f"{exc.__class__.__name__}: {exc}") from exc
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
            code, reply = _step(connection, lambda: connection.mail(envelope.sender), "mail")
        _check(connection, code, reply, "mail")
        code, reply = _step(connection, lambda: connection.rcpt(envelope.recipient), "rcpt")
        _check(connection, code, reply, "rcpt")
        # A connection lost after the final dot leaves us not knowing: the retry may duplicate (docs/delivery.md).
        code, reply = _step(connection, lambda: _data(connection, envelope.data), "data")
        _check(connection, code, reply, "data")
        return connection


def _data(connection: smtplib.SMTP, message: bytes) -> tuple[int, bytes]:
    """DATA, as `smtplib.SMTP.data`, without its whole-message regex pass (dot-stuffing) when it would change nothing.

    Our messages have no line starting with "." (bot/channels/email/mime.py encodes it): one C
    scan checks that, where the regex cost some 5% of the client's time per digest. Anything
    else goes through smtplib as before.
    """
    if message.startswith(b".") or b"\n." in message:
        return connection.data(message)
    connection.putcmd("data")
    code, reply = connection.getreply()
    if code != 354:
        raise smtplib.SMTPDataError(code, reply)
    connection.send(message + (b".\r\n" if message.endswith(b"\r\n") else b"\r\n.\r\n"))
    return connection.getreply()


class _Failed(Exception):
    """Where a message failed: the stage, the reply (None: lost), the connection and whether it can be reused."""

    def __init__(self, stage: Stage, connection: smtplib.SMTP | None, code: int | None, text: str = "",
                 detail: str = "", reusable: bool = False):
        super().__init__(f"{stage} {code} {text}")
        self.stage, self.connection, self.code, self.text = stage, connection, code, text
        self.detail, self.reusable = detail or text, reusable


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


def _expect(connection: smtplib.SMTP, answer: tuple[int, bytes], stage: Stage, ok: tuple[int, ...] = (250,)) -> None:
    code, reply = answer
    if code not in ok:
        raise _Failed(stage, connection, code, _text(reply))


def _step(connection: smtplib.SMTP, command: Callable[[], tuple[int, bytes]], stage: Stage) -> tuple[int, bytes]:
    try:
        return command()
    except smtplib.SMTPResponseException as exc:  # DATA refused before the body (smtplib raises)
        return exc.smtp_code, exc.smtp_error if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error).encode()
    except (OSError, smtplib.SMTPException) as exc:
        raise _Failed(stage, connection, None, detail=f"{exc.__class__.__name__}: {exc}") from exc


def _check(connection: smtplib.SMTP, code: int, reply: bytes, stage: Stage) -> None:
    if code in (250, 251):
        return
    text = _text(reply)
    if code == 421 or code < 200:  # the server is closing the connection (or answered nonsense)
        raise _Failed(stage, connection, code, text)
    try:
        connection.rset()  # the connection stays usable for the next message
    except (OSError, smtplib.SMTPException) as exc:
        raise _Failed(stage, connection, code, text) from exc
    raise _Failed(stage, connection, code, text, reusable=True)


def _quietly_close(connection: smtplib.SMTP) -> None:
    try:
        connection.close()
    except OSError:
        pass
