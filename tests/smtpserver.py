"""A real SMTP server (aiosmtpd) on 127.0.0.1 for tests: records every message it accepts.

Scriptable: `refuse` maps a recipient to an SMTP reply ("550 5.1.1 no such user"),
`drop_after` closes the connection after every N accepted messages, `drop_data`
lists message numbers (1-based, counting DATA commands) whose connection is
closed instead of accepting them, and `on_message(count)` runs after each accepted
message (a test can kill its client there). TLS and AUTH: pass aiosmtpd's
`tls_context=`/`require_starttls=` or `ssl_context=`, and `authenticator=`.
"""

from __future__ import annotations

import email
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope as SmtpEnvelope
from aiosmtpd.smtp import Session as SmtpSession


@dataclass
class Received:
    sender: str
    recipients: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        return email.message_from_bytes(self.data, policy=policy.default)  # type: ignore[return-value]


@dataclass
class _Handler:
    received: list[Received] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    drop_after: int | None = None
    drop_data: set[int] = field(default_factory=set)
    on_message: Callable[[int], None] | None = None
    data_commands: int = 0

    async def handle_RCPT(self, server, session: SmtpSession, envelope: SmtpEnvelope, address: str, options):  # noqa: N802
        if address.lower() in self.refuse:
            return self.refuse[address.lower()]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session: SmtpSession, envelope: SmtpEnvelope) -> str:  # noqa: N802
        with self.lock:
            self.data_commands += 1
            number = self.data_commands
        if number in self.drop_data:
            server.transport.close()  # the client sent the message and never hears back: not accepted
            return "421 closing"
        with self.lock:
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content or envelope.content))
            count = len(self.received)
        if self.on_message is not None:
            self.on_message(count)
        if self.drop_after and count % self.drop_after == 0:
            # Accept, then hang up before the client's next command (a relay recycling its connections).
            server.loop.call_soon(server.transport.close)
        return "250 Message accepted"


class SmtpSink:
    """Start with `SmtpSink().start()`; `port`, `received`, `messages_to(addr)`; `stop()` at the end."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, **controller_options):
        self.handler = _Handler()
        self.host = host
        self._port = port
        self._options = controller_options
        self.controller: Controller | None = None

    def start(self) -> "SmtpSink":
        port = self._port or _free_port()
        self.controller = Controller(self.handler, hostname=self.host, port=port, **self._options)
        self.controller.start()
        self._port = port
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        return f"smtp://{self.host}:{self.port}"

    @property
    def received(self) -> list[Received]:
        with self.handler.lock:
            return list(self.handler.received)

    def messages_to(self, address: str) -> list[EmailMessage]:
        return [r.message for r in self.received if address.lower() in (a.lower() for a in r.recipients)]

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        """Wait until at least `count` messages arrived (or time out) and return them."""
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.received


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
