"""SMTP delivery against a real aiosmtpd server on 127.0.0.1: headers, TLS, AUTH, bounces, drops, outages."""

from __future__ import annotations

import ssl
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword
from mailworld import Clock, add_matches, add_people, make_app
from smtpserver import SmtpSink

from bot.channels.email.mime import build_email
from bot.channels.email.smtp import RateLimiter, SmtpMailer, SmtpTarget
from bot.channels.outcomes import SENT
from bot.errors import ConfigError, DeliveryError, ServerUnavailable
from bot.jobs.cycle import send_step
from bot.jobs.plan import plan_digests
from bot.jobs.send import send_pending
from engine_owner import Owner
from bot.store import outbox, subscribers


@pytest.fixture
def sink():
    server = SmtpSink().start()
    yield server
    server.stop()


def plan_and_send(app):
    plan_digests(app.db, app.clock(), ignore_hour=True)
    return send_step(app)


def states(app) -> dict[str, str]:
    with app.db.session() as session:
        return {item.email: item.state for item in outbox.list_outbox(session)}


def test_a_digest_over_smtp_has_the_contract_headers_and_both_parts(env, sink):
    app = make_app(env, Clock(), PAPERPOST_SMTP_URL=sink.url, PAPERPOST_SMTP_CONNECTIONS="2",
                   PAPERPOST_UNSUBSCRIBE_MAILTO="leave@papers.example.org")
    people = add_people(app, 5)
    add_matches(app, people)
    report = plan_and_send(app)
    assert (report.sent, report.failed) == (5, 0)
    assert set(states(app).values()) == {"sent"}
    message = sink.messages_to("reader3@example.org")[0]
    assert message["From"] == "paperpost <digest@papers.example.org>"
    assert message["To"] == "reader3@example.org"
    assert message["Subject"] == "2 new papers on reward model"
    assert message["Date"].datetime == datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)
    assert message["Message-ID"].endswith("@papers.example.org>")
    assert message["List-Id"] == "paperpost digests <digest.papers.example.org>"
    unsubscribe = message["List-Unsubscribe"]
    assert unsubscribe.startswith("<https://papers.example.org/unsubscribe/")
    assert "<mailto:leave@papers.example.org?subject=unsubscribe>" in unsubscribe
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert [part.get_content_type() for part in message.iter_parts()] == ["text/plain", "text/html"]
    html = message.get_body(("html",)).get_content()
    assert "<mark" in html and 'style="' in html
    assert "https://papers.example.org/manage/" in message.get_body(("plain",)).get_content()
    assert [r.sender for r in sink.received] == ["digest@papers.example.org"] * 5


def test_connections_are_reused_and_idle_ones_closed(sink):
    mailer = SmtpMailer.from_url(sink.url, connections=1)
    for n in range(4):
        assert mailer.send(envelope(n, f"r{n}@example.org")) == SENT
    mailer.close()
    assert mailer.opened == 1
    assert len(sink.received) == 4


def test_lines_starting_with_a_dot_arrive_intact_whether_the_message_is_ours_or_not(sink):
    """Ours never start a line with "." (base64 bodies: sent without dot-stuffing); other bytes are dot-stuffed."""
    mailer = SmtpMailer.from_url(sink.url)
    text = ".NET reward models\n" + "a" * 75 + ".tail\n.\n"
    ours = build_email(outbox_id=1, kind="digest", mail_from="paperpost <digest@papers.example.org>",
                       to="r@example.org", subject="dots", text=text, html="<p>.x</p>\n",
                       date=datetime(2026, 11, 28, tzinfo=timezone.utc))
    assert b"\n." not in ours.data
    head = ours.data.split(b"\r\n\r\n", 1)[0].split(b"\r\nMIME-Version", 1)[0]
    foreign = replace(ours, outbox_id=2, data=head + b"\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
                      + text.replace("\n", "\r\n").encode() + b".\r\n..\r\n")
    assert mailer.send(ours) == SENT and mailer.send(foreign) == SENT
    mailer.close()
    first, second = sink.wait_for(2)
    assert first.message.get_body(("plain",)).get_content().replace("\r\n", "\n") == text
    assert second.message.get_body(("plain",)).get_content().replace("\r\n", "\n").startswith(".NET reward")
    assert second.data.endswith(b".\r\n..\r\n")  # a line that is only dots is not taken for the end


def envelope(n: int, to: str):
    return build_email(outbox_id=n, kind="digest", mail_from="paperpost <digest@papers.example.org>", to=to,
                       subject=f"test {n}", text="hello\n", html="<p>hello</p>\n",
                       date=datetime(2026, 11, 28, tzinfo=timezone.utc))


def authenticator(server, session, envelope, mechanism, auth_data):  # noqa: ANN001 - aiosmtpd's signature
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (b"mailer", b"s3cret/pw")
    return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535 itself


def test_starttls_and_auth_with_a_test_certificate(certificate):
    cert, key = certificate
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    sink = SmtpSink(tls_context=server_tls, require_starttls=True, authenticator=authenticator,
                    auth_require_tls=True).start()
    try:
        client_tls = ssl.create_default_context(cafile=str(cert))
        url = f"smtp://mailer:s3cret%2Fpw@127.0.0.1:{sink.port}?starttls=1"
        mailer = SmtpMailer.from_url(url, ssl_context=client_tls)
        assert mailer.send(envelope(1, "tls@example.org")) == SENT
        mailer.close()
        assert [r.recipients for r in sink.received] == [["tls@example.org"]]

        wrong = SmtpMailer.from_url(f"smtp://mailer:nope@127.0.0.1:{sink.port}?starttls=1", ssl_context=client_tls)
        refused = wrong.send(envelope(2, "tls@example.org"))
        assert refused.kind == "unavailable" and "refused our login (535" in refused.reason
        untrusted = SmtpMailer.from_url(url)  # the system trust store does not know the test certificate
        unverified = untrusted.send(envelope(3, "tls@example.org"))
        assert unverified.kind == "unavailable" and "CERTIFICATE_VERIFY_FAILED" in unverified.reason
        assert len(sink.received) == 1
    finally:
        sink.stop()


def test_smtps_implicit_tls(certificate):
    cert, key = certificate
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    # aiosmtpd does not count implicit TLS as TLS for AUTH; the whole session is encrypted anyway.
    sink = SmtpSink(ssl_context=server_tls, authenticator=authenticator, auth_require_tls=False).start()
    try:
        mailer = SmtpMailer.from_url(f"smtps://mailer:s3cret%2Fpw@127.0.0.1:{sink.port}",
                                     ssl_context=ssl.create_default_context(cafile=str(cert)))
        assert mailer.send(envelope(1, "implicit@example.org")) == SENT
        mailer.close()
        assert len(sink.received) == 1
    finally:
        sink.stop()


def test_a_refused_recipient_is_a_recorded_bounce_and_the_others_still_get_theirs(env, sink):
    clock = Clock()
    app = make_app(env, clock, PAPERPOST_SMTP_URL=sink.url, PAPERPOST_BOUNCE_LIMIT="2")
    people = add_people(app, 4)
    sink.handler.refuse["reader1@example.org"] = "550 5.1.1 no such user"
    add_matches(app, people, tag="a")
    report = plan_and_send(app)
    assert (report.sent, report.failed, report.bounced) == (3, 1, 1)
    with app.db.session() as session:
        failed = outbox.list_outbox(session, failed_only=True)
        assert [(f.email, f.attempts) for f in failed] == [("reader1@example.org", 1)]
        assert "550" in failed[0].last_error
        assert outbox.count_claimable(session, clock() + timedelta(days=1)) == 0  # final: never retried
        assert subscribers.find_subscriber(session, "reader1@example.org").status == "active"
    assert len(sink.received) == 3 and not sink.messages_to("reader1@example.org")

    clock.advance(days=1)  # a second bounce in a row reaches the limit: no more mail to that address
    add_matches(app, people, tag="b")
    assert plan_and_send(app).bounced == 1
    with app.db.session() as session:
        person = subscribers.find_subscriber(session, "reader1@example.org")
        assert (person.status, person.email_state) == ("active", "off")
    clock.advance(days=1)
    add_matches(app, people, tag="c")
    plan = plan_digests(app.db, clock(), ignore_hour=True)
    assert plan.planned == 3
    send_step(app)
    assert len(sink.received) == 9


def test_temporary_refusal_is_retried_with_backoff(env, sink):
    clock = Clock()
    app = make_app(env, clock, PAPERPOST_SMTP_URL=sink.url)
    people = add_people(app, 2)
    add_matches(app, people)
    sink.handler.refuse["reader0@example.org"] = "451 4.3.0 try later"
    report = plan_and_send(app)
    assert (report.sent, report.failed, report.bounced) == (1, 1, 0)
    assert send_step(app).sent == 0  # not before its retry time
    del sink.handler.refuse["reader0@example.org"]
    clock.advance(minutes=3)
    assert send_step(app).sent == 1
    with app.db.session() as session:
        assert subscribers.find_subscriber(session, "reader0@example.org").status == "active"
    assert set(states(app).values()) == {"sent"}


def test_a_server_dropping_connections_mid_batch_loses_nothing_and_sends_nothing_twice(env, sink):
    clock = Clock()
    app = make_app(env, clock, PAPERPOST_SMTP_URL=sink.url, PAPERPOST_SMTP_CONNECTIONS="3")
    people = add_people(app, 30)
    add_matches(app, people)
    sink.handler.drop_after = 4  # hangs up after every 4th message: the next one reconnects
    sink.handler.drop_data = {7, 19}  # these two DATA commands get the connection closed instead of a reply
    first = plan_and_send(app)
    assert (first.sent, first.failed) == (28, 2)
    clock.advance(minutes=3)
    second = send_step(app)
    assert (second.sent, second.failed) == (2, 0)
    assert set(states(app).values()) == {"sent"}
    for person in people:
        assert len(sink.messages_to(person.email)) == 1, person.email


def test_with_the_server_down_mail_stays_queued_and_goes_out_when_it_is_back(env):
    sink = SmtpSink().start()
    port = sink.port
    sink.stop()
    app = make_app(env, Clock(), PAPERPOST_SMTP_URL=f"smtp://127.0.0.1:{port}", PAPERPOST_SMTP_CONNECTIONS="2")
    people = add_people(app, 6)
    add_matches(app, people)
    report = plan_and_send(app)
    assert (report.sent, report.failed, report.deferred) == (0, 0, 6)
    with app.db.session() as session:
        items = outbox.list_outbox(session)
    assert {(i.state, i.attempts) for i in items} == {("queued", 0)}
    assert any("cannot reach the SMTP server" in (i.last_error or "") for i in items)  # why they wait

    back = SmtpSink(port=port).start()
    try:
        assert send_step(app).sent == 6
        assert len(back.received) == 6
        assert set(states(app).values()) == {"sent"}
    finally:
        back.stop()


def test_rate_limit_spaces_messages_across_threads():
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)

    limiter = RateLimiter(5, clock=lambda: now[0], sleep=sleep)
    for _ in range(6):
        limiter.wait()
    assert slept == pytest.approx([0.2, 0.4, 0.6, 0.8, 1.0])


def test_smtp_urls():
    assert SmtpTarget.parse("smtp://u:p%40ss@mail.example.org?starttls=1") == SmtpTarget(
        "mail.example.org", 587, "starttls", "u", "p@ss")
    assert SmtpTarget.parse("smtps://mail.example.org") == SmtpTarget("mail.example.org", 465, "tls")
    assert SmtpTarget.parse("smtp://127.0.0.1:2525") == SmtpTarget("127.0.0.1", 2525, "plain")
    with pytest.raises(ConfigError, match="smtp://"):
        SmtpTarget.parse("http://mail.example.org")
    assert issubclass(ServerUnavailable, DeliveryError)


def test_parallel_connections_record_every_row_once_on_sqlite_and_postgresql(env, sink, database_url):
    sink.handler.refuse["reader7@example.org"] = "550 5.1.1 no such user"
    app = make_app(env, Clock(), DATABASE_URL=database_url, PAPERPOST_SMTP_URL=sink.url,
                   PAPERPOST_SMTP_CONNECTIONS="4")
    people = add_people(app, 150)
    add_matches(app, people)
    plan_digests(app.db, app.clock(), ignore_hour=True)
    seen: list[str] = []
    channel = app.email_channel()
    report = send_pending(app.db, [channel], app.mail_context, Owner(1), batch=40,
                          on_progress=lambda item, result: seen.append(item.email))
    channel.sender.close()
    assert (report.sent, report.bounced) == (149, 1)
    assert sorted(seen) == sorted(p.email for p in people)
    assert sorted(r.recipients[0] for r in sink.received) == sorted(p.email for p in people if p.email != "reader7@example.org")
    with app.db.session() as session:
        assert outbox.backlog(session) == {"sent": 149, "failed": 1}
    app.close()
