"""DKIM: digests signed with a key made at test time, verified by dkimpy after a real SMTP round trip (no DNS)."""

from __future__ import annotations

import base64
import re

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from mailworld import Clock, add_matches, add_people, make_app
from smtpserver import SmtpSink

from bot.errors import ConfigError
from bot.jobs.cycle import send_step
from bot.jobs.plan import plan_digests

COVERED = {"from", "to", "subject", "date", "message-id", "list-id", "list-unsubscribe", "list-unsubscribe-post"}


@pytest.fixture(scope="module")
def key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def key_file(tmp_path, key):
    path = tmp_path / "dkim.pem"
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                       serialization.NoEncryption()))
    return path


@pytest.fixture
def sink():
    server = SmtpSink().start()
    yield server
    server.stop()


def published(key, name: bytes):
    """A dnsfunc for dkimpy: the TXT record of `name` only, as a DNS server would publish it."""
    public = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    asked: list[bytes] = []

    def dnsfunc(queried: bytes, timeout: float = 5) -> bytes | None:
        asked.append(queried)
        return b"v=DKIM1; k=rsa; p=" + base64.b64encode(public) if queried.rstrip(b".") == name else None

    return dnsfunc, asked


def tags(data: bytes) -> dict[str, str]:
    header = re.search(rb"^DKIM-Signature:(.*?)\r\n(?![ \t])", data, re.DOTALL | re.MULTILINE).group(1).decode()
    return {k.strip(): re.sub(r"\s+", "", v) for k, v in (t.split("=", 1) for t in header.split(";") if "=" in t)}


def send_signed(env, sink, key_file, count=3, **settings):
    app = make_app(env, Clock(), PAPERPOST_SMTP_URL=sink.url, PAPERPOST_DKIM_KEY_FILE=str(key_file), **settings)
    add_matches(app, add_people(app, count))
    plan_digests(app.db, app.clock(), ignore_hour=True)
    report = send_step(app)
    app.close()
    assert report.sent == count
    return sink.wait_for(count)


def test_every_digest_is_signed_over_the_contract_headers_and_verifies(env, sink, key_file, key):
    received = send_signed(env, sink, key_file)
    dnsfunc, asked = published(key, b"paperpost._domainkey.papers.example.org")
    for message in received:
        assert message.data.startswith(b"DKIM-Signature:")
        found = tags(message.data)
        assert (found["d"], found["s"], found["c"]) == ("papers.example.org", "paperpost", "relaxed/relaxed")
        assert COVERED <= {h.lower() for h in found["h"].split(":")}
        assert dkim.verify(message.data, dnsfunc=dnsfunc)
    assert asked and all(name.rstrip(b".") == b"paperpost._domainkey.papers.example.org" for name in asked)


def test_a_changed_unsubscribe_header_or_body_breaks_the_signature(env, sink, key_file, key):
    data = send_signed(env, sink, key_file, count=1)[0].data
    dnsfunc, _ = published(key, b"paperpost._domainkey.papers.example.org")
    assert dkim.verify(data, dnsfunc=dnsfunc)
    assert not dkim.verify(data.replace(b"List-Unsubscribe: <https://papers.example.org/unsubscribe/",
                                        b"List-Unsubscribe: <https://evil.example.net/unsubscribe/"), dnsfunc=dnsfunc)
    body = data.index(b"base64\r\n\r\n") + len(b"base64\r\n\r\n")  # one character of the text body changed
    changed = data[:body] + (b"B" if data[body:body + 1] == b"A" else b"A") + data[body + 1:]
    assert not dkim.verify(changed, dnsfunc=dnsfunc)
    other = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    wrong_key, _ = published(other, b"paperpost._domainkey.papers.example.org")
    assert not dkim.verify(data, dnsfunc=wrong_key)


def test_the_selector_and_domain_settings_name_the_published_key(env, sink, key_file, key):
    data = send_signed(env, sink, key_file, count=1, PAPERPOST_DKIM_SELECTOR="nov2026",
                       PAPERPOST_DKIM_DOMAIN="mail.example.org")[0].data
    assert (tags(data)["d"], tags(data)["s"]) == ("mail.example.org", "nov2026")
    assert dkim.verify(data, dnsfunc=published(key, b"nov2026._domainkey.mail.example.org")[0])
    assert not dkim.verify(data, dnsfunc=published(key, b"paperpost._domainkey.papers.example.org")[0])


def test_a_missing_or_unreadable_key_stops_with_a_clear_message(env, tmp_path):
    app = make_app(env, Clock(), PAPERPOST_DKIM_KEY_FILE=str(tmp_path / "absent.pem"))
    with pytest.raises(ConfigError, match="cannot read the DKIM key"):
        app.mailer()
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("-----BEGIN RSA PRIVATE KEY-----\nbm90IGEga2V5\n-----END RSA PRIVATE KEY-----\n")
    app = make_app(env, Clock(), PAPERPOST_DKIM_KEY_FILE=str(garbage))
    with pytest.raises(ConfigError, match="not a PEM RSA private key"):
        app.mailer()


def test_without_a_key_nothing_is_signed(env, sink):
    app = make_app(env, Clock(), PAPERPOST_SMTP_URL=sink.url)
    add_matches(app, add_people(app, 1))
    plan_digests(app.db, app.clock(), ignore_hour=True)
    assert send_step(app).sent == 1
    app.close()
    assert b"DKIM-Signature" not in sink.wait_for(1)[0].data
