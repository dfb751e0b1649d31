"""The email outcome table walked row by row: a real SMTP server (aiosmtpd) answers each code at each stage.

Every row of bot/channels/email/outcome_table.py has a scenario here that makes
a real server (or the real file system, or dkimpy) produce exactly that answer;
the test checks the sender returns that row's outcome and sentence. A row
without a scenario, or a scenario without a row, fails the test.
"""

from __future__ import annotations

import re
import ssl
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timezone

from aiosmtpd.smtp import AuthResult, LoginPassword
from smtpserver import SmtpSink, _Handler

from bot.channels.email.dkim import DkimKey, SigningMailer
from bot.channels.email.folder import FolderMailer
from bot.channels.email.mime import build_email
from bot.channels.email.outcome_table import EMAIL_OUTCOMES, Rule
from bot.channels.email.smtp import SmtpMailer
from bot.channels.outcomes import SENT, Outcome

TO = "reader@example.org"


def envelope():
    return build_email(outbox_id=1, kind="digest", mail_from="paperpost <digest@papers.example.org>", to=TO,
                       subject="test", text="hello\n", html="<p>hello</p>\n",
                       date=datetime(2026, 11, 28, tzinfo=timezone.utc))


@dataclass
class Scripted(_Handler):
    """The test server's handler, told what to answer at EHLO, MAIL FROM, RCPT TO and DATA ("drop": hang up)."""

    ehlo: str | None = None
    mail: str | None = None
    rcpt: str | None = None
    data: str | None = None

    async def handle_EHLO(self, server, session, envelope, hostname, responses):  # noqa: N802
        session.host_name = hostname
        return [self.ehlo] if self.ehlo else responses

    async def handle_MAIL(self, server, session, envelope, address, options):  # noqa: N802
        if self.mail == "drop":
            server.transport.close()
            return "250 OK"
        if self.mail:
            return self.mail
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, options):  # noqa: N802
        if self.rcpt == "drop":
            server.transport.close()
            return "250 OK"
        if self.rcpt:
            return self.rcpt
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        if self.data == "drop":
            server.transport.close()  # the client sent the message and never hears back
            return "250 OK"
        if self.data:
            return self.data
        return await super().handle_DATA(server, session, envelope)


def serve(**answers: str) -> SmtpSink:
    sink = SmtpSink(auth_require_tls=False)
    sink.handler = Scripted(**answers)
    return sink.start()


def over_smtp(url_of: Callable[[SmtpSink], str] = lambda s: s.url, *, ssl_context: ssl.SSLContext | None = None,
              **server_options) -> Callable[[], Outcome]:
    def run(**answers: str) -> Outcome:
        sink = SmtpSink(**server_options) if server_options else SmtpSink(auth_require_tls=False)
        sink.handler = Scripted(**answers)
        sink.start()
        try:
            mailer = SmtpMailer.from_url(url_of(sink), ssl_context=ssl_context, timeout=5)
            outcome = mailer.send(envelope())
            mailer.close()
            assert not [r for r in sink.received if outcome.kind != "sent"]  # refused means not delivered
            return outcome
        finally:
            sink.stop()
    return run  # type: ignore[return-value]


def _auth(answer: str) -> Callable:
    """An authenticator that answers `answer` ("drop": hang up mid-login; "535": wrong password)."""
    def authenticator(server, session, envelope, mechanism, auth_data):  # noqa: ANN001 - aiosmtpd's signature
        if answer == "drop":
            server.transport.close()
            return AuthResult(success=False, handled=True)
        if answer.startswith("4"):
            return AuthResult(success=False, handled=False, message=answer)
        return AuthResult(success=isinstance(auth_data, LoginPassword) and auth_data.password == b"right",
                          handled=False)
    return authenticator


def _closed_port() -> int:
    sink = SmtpSink().start()
    port = sink.port
    sink.stop()
    return port


def scenarios(certificate, tmp_path) -> dict[tuple[str, str], Callable[[], Outcome]]:
    cert, key = certificate
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    plain = over_smtp()
    login = {answer: over_smtp(lambda s: f"smtp://mailer:wrong@127.0.0.1:{s.port}", auth_require_tls=False,
                               authenticator=_auth(answer)) for answer in ("drop", "454 4.7.0 try later", "535")}
    untrusted_tls = over_smtp(lambda s: f"{s.url}?starttls=1", tls_context=server_tls)
    no_tls = over_smtp(lambda s: f"{s.url}?starttls=1")

    def folder() -> Outcome:
        blocked = tmp_path / "outbox"
        blocked.write_text("a file where the outbox folder should be")
        return FolderMailer(blocked).send(envelope())

    def sign() -> Outcome:
        subprocess.run(["openssl", "genrsa", "-out", str(tmp_path / "dkim.pem"), "1024"], check=True, capture_output=True)
        key = DkimKey.from_settings(str(tmp_path / "dkim.pem"), "sel", "papers.example.org", "d@papers.example.org")
        unsigned = FolderMailer(tmp_path / "signed")
        broken = replace(envelope(), data=b"not a header line\r\n\r\nbody\r\n")  # dkimpy cannot parse it
        return SigningMailer(unsigned, key).send(broken)

    return {
        ("connect", "lost"): lambda: SmtpMailer.from_url(f"smtp://127.0.0.1:{_closed_port()}", timeout=5).send(envelope()),
        ("connect", "4xx"): lambda: plain(ehlo="421 4.3.2 busy, come back later"),
        ("connect", "5xx"): lambda: plain(ehlo="554 5.7.1 no service for you"),
        ("starttls", "lost"): untrusted_tls,
        ("starttls", "5xx"): no_tls,
        ("login", "lost"): login["drop"],
        ("login", "4xx"): login["454 4.7.0 try later"],
        ("login", "5xx"): login["535"],
        ("mail", "421"): lambda: plain(mail="421 4.7.0 closing"),
        ("mail", "4xx"): lambda: plain(mail="451 4.3.0 try later"),
        ("mail", "5xx"): lambda: plain(mail="553 5.7.1 sender not allowed"),
        ("mail", "lost"): lambda: plain(mail="drop"),
        ("rcpt", "421"): lambda: plain(rcpt="421 4.7.0 closing"),
        ("rcpt", "4xx"): lambda: plain(rcpt="450 4.2.1 mailbox busy"),
        ("rcpt", "5xx"): lambda: plain(rcpt="550 5.1.1 no such user"),
        ("rcpt", "lost"): lambda: plain(rcpt="drop"),
        ("data", "421"): lambda: plain(data="421 4.7.0 closing"),
        ("data", "4xx"): lambda: plain(data="452 4.3.1 out of storage"),
        ("data", "5xx"): lambda: plain(data="554 5.6.0 message refused"),
        ("data", "lost"): lambda: plain(data="drop"),
        ("folder", "lost"): folder,
        ("sign", "lost"): sign,
    }


def sentence(rule: Rule) -> re.Pattern[str]:
    """The rule's sentence with its blanks as wildcards: matching it shows this row (not another) answered."""
    parts = re.split(r"\{\w+\}", rule.says)
    return re.compile(".*?".join(re.escape(p) for p in parts), re.DOTALL)


def test_every_row_of_the_email_outcome_table_against_a_real_server(certificate, tmp_path):
    runs = scenarios(certificate, tmp_path)
    assert set(runs) == {(rule.stage, rule.reply) for rule in EMAIL_OUTCOMES}  # one scenario per row
    wrong = []
    for rule in EMAIL_OUTCOMES:
        outcome = runs[(rule.stage, rule.reply)]()
        if outcome.kind != rule.outcome or not sentence(rule).fullmatch(outcome.reason):
            wrong.append(f"{rule.stage} {rule.reply}: expected {rule.outcome} ({rule.says!r}), got {outcome}")
        code = rule.reply.replace("x", r"\d")
        if rule.reply != "lost" and not re.search(rf"\b{code}\b", outcome.reason):
            wrong.append(f"{rule.stage} {rule.reply}: the server's reply code is not in {outcome.reason!r}")
    assert wrong == []


def test_an_accepted_message_is_sent():
    sink = serve()
    try:
        mailer = SmtpMailer.from_url(sink.url)
        assert mailer.send(envelope()) == SENT
        mailer.close()
        assert len(sink.received) == 1
    finally:
        sink.stop()
