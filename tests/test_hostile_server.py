"""The server's own settings against abuse, through uvicorn on loopback (issue 13, items 3, 6 and 9):

- secrets never reach a log line: link tokens in error lines, tracebacks and access lines are blanked;
- X-Forwarded-For is believed from PAPERPOST_TRUSTED_PROXIES only, right-most untrusted address first;
- confirmation mails are limited per mailbox (plus-tags and dots folded), and attempts never lock the owner out;
- the confirmation mail carries nothing a stranger typed;
- /healthz tells the public the status only.
"""

from __future__ import annotations

import email
from email import policy

import io
import logging
import re
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from bot.app import App
from bot.config import load_config
from bot.jobs.cycle import send_step
from bot.logs import RedactSecrets, redact, setup_logging
from bot.models import SubscriberInput
from bot.store import heartbeats, outbox, sources, subscribers
from bot.store.schema import RateHitRow
from liveserver import SIGN_UP, Visitor, serve, wait_until
from subscribers.ratelimit import Rule, mailbox_key
from subscribers.web.clients import client_address, limit_key, networks
from subscribers.web.routes import Limits

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)


class Clock:
    """The App's clock: a time the test moves, or a failure it arms."""

    def __init__(self) -> None:
        self.now = NOW
        self.failure: str | None = None

    def __call__(self) -> datetime:
        if self.failure:
            raise RuntimeError(self.failure)
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def app(env: dict[str, str], clock: Clock) -> Iterator[App]:
    application = App(load_config(), clock=clock)
    application.db  # noqa: B018 - migrate before the server starts
    yield application
    application.close()


def confirm_rows(app: App) -> list[outbox.OutboxItem]:
    with app.db.session() as session:
        return [item for item in outbox.list_outbox(session) if item.kind == "confirm"]


def rate_keys(app: App) -> dict[str, int]:
    with app.db.session() as session:
        return dict(session.execute(select(RateHitRow.key, RateHitRow.count)).all())


def add_active(app: App, address: str):  # type: ignore[no-untyped-def]
    with app.db.session() as session:
        return subscribers.save_subscriber(session, SubscriberInput(address, ("diffusion",), tz="UTC"), "active", NOW)[0]


# 3. Tokens never reach a log line.

@pytest.mark.parametrize("our_logging", [False, True], ids=["paperpost web", "paperpost run"])
def test_a_500_on_a_token_route_logs_no_token_and_is_not_cached(app: App, clock: Clock, capfd, our_logging: bool):
    who = add_active(app, "ada@example.org")
    token = app.tokens.make("manage", who)
    stream = io.StringIO()
    try:
        with serve(app, access_log=True, log_level="info") as base:
            if our_logging:  # `paperpost run` routes uvicorn's lines through ours after building the server
                setup_logging("json", stream=stream)
            visitor = Visitor(base)
            assert visitor.open(f"/manage/{token}").status_code == 200
            clock.failure = f"the clock broke while serving /manage/{token} for {token}"
            page = visitor.post(f"/manage/{token}", {"action": "pause"})
            clock.failure = None
            visitor.close()
    finally:
        if our_logging:
            logging.getLogger().handlers.clear()
    out, err = capfd.readouterr()
    logged = out + err + stream.getvalue()
    assert page.status_code == 500 and "Something went wrong" in page.text and token not in page.text
    assert page.headers["cache-control"] == "no-store" and "frame-ancestors 'none'" in page.headers[
        "content-security-policy"]
    assert "Traceback" in logged and "/manage/[redacted]" in logged  # the error and the request line are there
    assert token not in logged and token.split(".")[-1] not in logged


def test_redaction_covers_links_signed_tokens_bot_tokens_and_url_passwords(app: App):
    who = add_active(app, "ada@example.org")
    token = app.tokens.make("unsubscribe", who)
    text = (f"GET https://papers.example/unsubscribe/{token}?x=1 then {token} via "
            "https://api.telegram.org/bot123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/getMe "
            "smtp://mailer:s3cret@smtp.example:587 postgresql+psycopg://app:pw@db/paperpost cs.CL ada@example.org")
    clean = redact(text)
    for secret in (token, "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw", "s3cret", ":pw@"):
        assert secret not in clean
    assert "/unsubscribe/[redacted]?x=1" in clean and "smtp://[redacted]@smtp.example:587" in clean
    assert "cs.CL ada@example.org" in clean  # ordinary text is left alone
    try:
        raise ValueError(f"bad link {token}")
    except ValueError:
        import sys

        record = logging.LogRecord("paperpost.web", logging.ERROR, __file__, 1, "failed on %s", (f"/digest/{token}",),
                                   sys.exc_info())
    RedactSecrets().filter(record)
    assert token not in record.getMessage() and token not in (record.exc_text or "")
    assert "ValueError: bad link [redacted]" in (record.exc_text or "")


# 6. Forwarded headers, per-mailbox limits, the owner never locked out.

def test_forwarded_for_is_ignored_without_trusted_proxies(app: App):
    limits = Limits(signups_per_ip=Rule(3, 3600))
    with serve(app, limits=limits) as base:
        statuses = []
        for n in range(5):  # a new "client" each time, as a spoofer would send it
            one = Visitor(base, **{"X-Forwarded-For": f"203.0.113.{n}"})
            statuses.append(one.post("/subscribe", {**SIGN_UP, "email": f"p{n}@example.org"}).status_code)
            one.close()
    assert statuses == [200, 200, 200, 429, 429]
    assert rate_keys(app)["signup:127.0.0.1"] == 5 and not any("203.0.113" in key for key in rate_keys(app))


def test_behind_a_trusted_proxy_the_right_most_untrusted_address_is_the_client(env, clock: Clock, monkeypatch):
    monkeypatch.setenv("PAPERPOST_TRUSTED_PROXIES", "127.0.0.1, 10.0.0.0/8")
    app = App(load_config(), clock=clock)
    app.db  # noqa: B018
    with serve(app, limits=Limits(signups_per_ip=Rule(2, 3600))) as base:
        def attempt(forwarded: str, n: int) -> int:
            one = Visitor(base, **{"X-Forwarded-For": forwarded})
            status = one.post("/subscribe", {**SIGN_UP, "email": f"q{n}@example.org"}).status_code
            one.close()
            return status

        # The left part is whatever the client wrote; our proxies (10.x) appended the rest.
        spoofed = [attempt(f"192.0.2.{n}, 198.51.100.7, 10.1.2.3", n) for n in range(4)]
        other = attempt("198.51.100.8, 10.1.2.3", 9)
    keys = rate_keys(app)
    app.close()
    assert spoofed == [200, 200, 429, 429] and other == 200
    assert keys["signup:198.51.100.7"] == 4 and keys["signup:198.51.100.8"] == 1
    assert not any("192.0.2." in key or "10.1.2.3" in key for key in keys)


def test_client_addresses_and_their_limit_keys():
    ours = networks(["10.0.0.0/8", "::1"])
    assert client_address("203.0.113.5", ["1.1.1.1"], ours) == "203.0.113.5"  # not from a proxy: header ignored
    assert client_address("10.0.0.2", ["1.1.1.1, 2.2.2.2:443"], ours) == "2.2.2.2"
    assert client_address("::1", ["[2001:db8::1]:80", "10.9.9.9"], ours) == "2001:db8::1"
    assert client_address("10.0.0.2", ["::ffff:198.51.100.1"], ours) == "198.51.100.1"
    assert client_address("10.0.0.2", ["not-an-address"], ours) == "unknown"
    assert client_address("10.0.0.2", ["10.0.0.9"], ours) == "10.0.0.2"
    assert client_address("10.0.0.2", [], ours) == "10.0.0.2"
    assert client_address(None, [], ours) == "unknown"
    assert limit_key("2001:db8:1:2:aaaa::1") == limit_key("2001:db8:1:2:bbbb::9") == "2001:db8:1:2::/64"
    assert limit_key("198.51.100.1") == "198.51.100.1"
    assert mailbox_key("Victim.Name+7@Example.org") == mailbox_key("victimname@example.org")
    assert mailbox_key("victim@example.org") != mailbox_key("victim@example.net")


def test_a_mailbox_gets_two_confirmations_per_window_however_it_is_tagged(app: App):
    open_ip = Limits(posts_per_ip=Rule(1000, 60), signups_per_ip=Rule(1000, 3600))
    with serve(app, limits=open_ip) as base:
        attacker = Visitor(base)
        statuses = [attacker.post("/subscribe", {**SIGN_UP, "email": f"victim+{n}@example.org"}).status_code
                    for n in range(8)]
        statuses += [attacker.post("/subscribe", {**SIGN_UP, "email": "v.i.c.t.i.m@example.org"}).status_code]
        attacker.close()
    wait_until(lambda: rate_keys(app).get("mailbox:victim@example.org") == 9)
    assert statuses == [200] * 9
    assert len(confirm_rows(app)) == 2


def test_strangers_cannot_lock_the_owner_out(app: App, clock: Clock):
    open_ip = Limits(posts_per_ip=Rule(1000, 60), signups_per_ip=Rule(1000, 3600))
    with serve(app, limits=open_ip) as base:
        stranger, owner = Visitor(base), Visitor(base)
        tries = [stranger.post("/subscribe", {**SIGN_UP, "email": f"owner+{n}@example.org"}).status_code
                 for n in range(5)]
        mine = owner.post("/subscribe", {**SIGN_UP, "email": "owner@example.org"})
        assert tries == [200] * 5 and mine.status_code == 200 and "Check your inbox" in mine.text  # never a 429
        wait_until(lambda: subscribed(app, "owner@example.org"))
        assert len(confirm_rows(app)) == 2  # the window's two mails went to the stranger's tags
        clock.now += timedelta(minutes=15)  # a short window: the owner asks again and gets their mail
        assert owner.post("/subscribe", {**SIGN_UP, "email": "owner@example.org"}).status_code == 200
        wait_until(lambda: "owner@example.org" in [row.email for row in confirm_rows(app)])
        with app.db.session() as session:
            me = subscribers.find_subscriber(session, "owner@example.org")
        confirm = f"/confirm/{app.tokens.make('confirm', me)}"
        owner.open(confirm)
        assert "You are subscribed" in owner.post(confirm, {}).text
        stranger.post("/subscribe", {**SIGN_UP, "email": "owner@example.org"})  # more strangers, after that
        manage = owner.open(f"/manage/{app.tokens.make('manage', me)}")
        assert manage.status_code == 200 and "Your subscription" in manage.text  # the owner's own link works
        stranger.close(), owner.close()


def subscribed(app: App, address: str) -> bool:
    with app.db.session() as session:
        return subscribers.find_subscriber(session, address) is not None


def test_the_confirmation_mail_repeats_nothing_a_stranger_typed(app: App):
    spam = "your bank account is locked visit evil example now"
    with serve(app) as base:
        visitor = Visitor(base)
        assert visitor.post("/subscribe", {**SIGN_UP, "interests": f"{spam}\n\"call 555 0100\""}).status_code == 200
        visitor.close()
    wait_until(lambda: len(confirm_rows(app)) == 1)
    assert send_step(app).sent == 1
    [eml] = app.config.outbox_dir.glob("*-confirm-*.eml")
    message = email.message_from_bytes(eml.read_bytes(), policy=policy.default)
    mail = str(message["Subject"]) + "".join(part.get_content() for part in message.walk() if not part.is_multipart())
    assert "bank" not in mail and "555" not in mail and "evil" not in mail
    assert re.search(r"on 2 interests", mail)


# 9. /healthz: the status for everyone, details for the operator who asks.

def test_healthz_shows_the_public_only_the_status(env, clock: Clock, monkeypatch):
    for details in ("0", "1"):
        monkeypatch.setenv("PAPERPOST_HEALTH_DETAILS", details)
        app = App(load_config(), clock=clock)
        if details == "0":  # the same database for both answers
            with app.db.session() as session:
                source = sources.add_source(session, "private", "https://feeds.example/rss", "rss", NOW)
                sources.record_poll(session, source.id, NOW,
                                    last_error="401 from https://reader:hunter2@feeds.example/rss")
                heartbeats.job_started(session, "poll", 900, NOW, pid=4242, host="db-host-7")
        with serve(app) as base:
            visitor = Visitor(base)
            answer = visitor.http.get("/healthz")
            visitor.close()
        app.close()
        body = answer.text
        assert answer.status_code in (200, 503) and answer.headers["cache-control"] == "no-store"
        assert "hunter2" not in body
        if details == "0":
            assert set(answer.json()) == {"healthy", "status"}
            assert "4242" not in body and "db-host-7" not in body and "feeds.example" not in body
        else:
            assert "4242" in body and "db-host-7" in body and "https://[redacted]@feeds.example/rss" in body
