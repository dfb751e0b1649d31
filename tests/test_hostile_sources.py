"""Hostile sources: what a feed or its server sends can neither plant a link nor steer a fetch.

Classes closed here, each against the real fetch path and a real HTTP(S) server on 127.0.0.1
(host names come from a resolver passed in, as the system one would give them):
- only http(s) links leave any parser (hand-picked schemes and hypothesis-made hrefs, every kind);
- link-local and metadata addresses are refused in every spelling, after resolution, on every hop;
- private and loopback addresses only on the host the operator typed, never through a redirect;
- the request goes to the address that was checked (DNS rebinding), with the URL's Host and TLS name;
- a permanent redirect is recorded and shown, the URL is kept until the operator accepts it;
- credentials in URLs are refused at `sources add` and never shown for a source that has them.
"""

from __future__ import annotations

import ipaddress
import json
import re
import ssl
import subprocess
from datetime import datetime, timezone
from pathlib import Path
from xml.sax.saxutils import quoteattr

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from bot.sources.addresses import classify
from bot.sources.fetch import FetchState, fetch, user_agent
from bot.sources.parsing import KINDS, parse_feed
from bot.store import open_database, sources
from feedserver import running_server

FIXTURES = Path(__file__).parent / "fixtures"
ATOM = (FIXTURES / "arxiv_rss_atom_new_format.xml").read_bytes()
NOW = datetime(2026, 1, 5, 8, 0, tzinfo=timezone.utc)
UA = user_agent("9.9", None)

HOSTILE_HREFS = [
    "javascript:alert(1)", "JavaScript:alert(1)", " javascript:alert(1)", "java\tscript:alert(1)",
    "java\nscript:alert(1)", "\x01javascript:alert(1)", "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)", "file:///etc/passwd", "ftp://example.org/x", "//evil.example/x", "/relative/path",
    "https://arxiv.org@evil.example/", "https://user:pw@example.org/", "https:\\\\evil.example", "http:///nohost",
    "https://exa\u200bmple.org/", "https://[::1/", "mailto:a@example.org", "",
]
GOOD_HREF = "https://example.org/paper/1"


def web_only(url: str) -> bool:
    """The invariant, written independently of the code under test."""
    return (re.fullmatch(r"(?i)https?://[^\s/@?#\\]+(?:[/?#]\S*)?", url) is not None
            and not any(ord(c) < 0x20 or 0x7f <= ord(c) <= 0x9f or c in "\u200b\ufeff" for c in url))


def rss(hrefs: list[str]) -> bytes:
    items = "".join(
        f"<item><title>Paper {n}</title><link>{_escape(h)}</link><guid>urn:paper:{n}</guid>"
        f"<enclosure url={quoteattr(h)} type=\"application/pdf\"/></item>" for n, h in enumerate(hrefs))
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{items}</channel></rss>'.encode()


def atom(hrefs: list[str], arxiv: bool = False) -> bytes:
    entries = "".join(
        f"<entry><id>{f'http://arxiv.org/abs/2401.{n:05d}' if arxiv else f'urn:p:{n}'}</id>"
        f"<title>Paper {n}</title><summary>s</summary><link href={quoteattr(h)}/>"
        f"<link title=\"doi\" href={quoteattr(h)} rel=\"related\"/>"
        f"<link href={quoteattr(h)} type=\"application/pdf\" rel=\"related\"/></entry>" for n, h in enumerate(hrefs))
    return f'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>{entries}</feed>'.encode()


def hf(hrefs: list[str]) -> bytes:
    return json.dumps([{"paper": {"id": f"2401.{n:05d}", "title": f"Paper {n}", "githubRepo": h, "projectPage": h},
                        "thumbnail": h} for n, h in enumerate(hrefs)]).encode()


def _escape(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def bodies(hrefs: list[str]) -> dict[str, bytes]:
    return {"rss": rss(hrefs), "arxiv": atom(hrefs, arxiv=True), "arxiv-api": atom(hrefs, arxiv=True), "hf": hf(hrefs)}


def every_link(kind: str, body: bytes) -> list[str]:
    papers = parse_feed(kind, body).papers
    return [url for p in papers for url in p.links.values()] + [p.thumbnail for p in papers if p.thumbnail]


@pytest.mark.parametrize("kind", KINDS)
def test_every_parser_drops_every_non_web_link(kind):
    body = bodies(HOSTILE_HREFS + [GOOD_HREF])[kind]
    links = every_link(kind, body)
    assert links and all(web_only(url) for url in links), [u for u in links if not web_only(u)]
    assert GOOD_HREF in links or kind == "arxiv"  # the announcement parser makes arXiv's own links only
    assert len(parse_feed(kind, body).papers) == len(HOSTILE_HREFS) + 1  # the papers are kept, only links go


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(st.text(max_size=40), st.sampled_from(HOSTILE_HREFS),
                          st.builds(lambda s, rest: f"{s}:{rest}", st.sampled_from(["javascript", "data", "http",
                                                                                    "https", "HtTpS", "blob"]),
                                    st.text(max_size=30))), min_size=1, max_size=5))
def test_no_generated_href_survives_unless_it_is_a_web_link(hrefs):
    clean = [h for h in hrefs if "\x00" not in h and not any(0xd800 <= ord(c) <= 0xdfff for c in h)]
    for kind, body in bodies(clean or ["x"]).items():
        assert all(web_only(url) for url in every_link(kind, body))


# --- fetching: where a source may lead -----------------------------------------------------------------

@pytest.fixture(scope="module")
def server():
    with running_server() as srv:
        yield srv


@pytest.fixture
def client():
    with httpx.Client() as c:
        yield c


class Resolver:
    """Host name -> the answers, in turn (the last repeats); records every lookup."""

    def __init__(self, **names: list[list[str]]):
        self.answers = {name.replace("_", "."): list(turns) for name, turns in names.items()}
        self.lookups: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.lookups.append(host)
        turns = self.answers.get(host)
        if turns is None:
            raise OSError(f"no such test host {host}")
        return turns.pop(0) if len(turns) > 1 else turns[0]


def get(client, url, resolve=None, **kwargs):
    extra = {"resolve": resolve} if resolve is not None else {}
    return fetch(client, FetchState(url), user_agent=UA, clock=lambda: NOW, timeout=2.0, **extra, **kwargs)


FORBIDDEN_LOCATIONS = [
    "http://169.254.169.254/latest/meta-data/", "http://[::ffff:169.254.169.254]/latest/meta-data/",
    "http://[::ffff:a9fe:a9fe]/", "http://[64:ff9b::a9fe:a9fe]/", "http://[2002:a9fe:a9fe::1]/",
    "http://[fe80::1]/", "http://100.100.100.200/latest/meta-data/", "http://[fd00:ec2::254]/latest/meta-data/",
    "http://2852039166/", "http://0xa9fea9fe/", "http://169.254.169.254./", "http://224.0.0.1/",
]


@pytest.mark.parametrize("location", FORBIDDEN_LOCATIONS)
def test_a_redirect_to_a_link_local_or_metadata_address_is_refused(server, client, location):
    path = f"/to-metadata-{abs(hash(location))}"
    server.route(path, status=302, headers={"Location": location})
    outcome = get(client, server.url(path))
    assert outcome.status == "failed"
    assert "refused" in outcome.error and "may never reach" in outcome.error
    assert outcome.state.failures == 1


@pytest.mark.parametrize("location", FORBIDDEN_LOCATIONS)
def test_the_operator_cannot_add_a_metadata_address_either(client, location):
    outcome = get(client, location)
    assert outcome.status == "failed" and "may never reach" in outcome.error


def test_a_name_is_judged_by_what_it_resolves_to_and_every_answer_counts(client):
    resolve = Resolver(metadata_test=[["169.254.169.254"]], mixed_test=[["127.0.0.1", "169.254.170.2"]],
                       v6_test=[["::ffff:169.254.169.254"]])
    for host in ("metadata.test", "mixed.test", "v6.test"):
        outcome = get(client, f"http://{host}/feed", resolve)
        assert outcome.status == "failed" and "may never reach" in outcome.error, outcome.error
    assert resolve.lookups == ["metadata.test", "mixed.test", "v6.test"]


def test_loopback_is_fine_on_the_operators_host_and_refused_through_a_redirect_from_another(server, client):
    port = server.port
    server.route("/own", body=b"<rss/>")
    server.route("/same-host-hop", status=301, headers={"Location": f"http://feeds.test:{port}/own"})
    server.route("/cross-host-hop", status=302, headers={"Location": server.url("/own")})
    server.route("/to-localhost", status=302, headers={"Location": f"http://localhost:{port}/own"})
    resolve = Resolver(feeds_test=[["127.0.0.1"]], localhost=[["127.0.0.1"]])
    assert get(client, server.url("/own"), resolve).status == "ok"  # what the operator typed
    assert get(client, f"http://feeds.test:{port}/same-host-hop", resolve).status == "moved"
    for path in ("/cross-host-hop", "/to-localhost"):
        outcome = get(client, f"http://feeds.test:{port}{path}", resolve)
        assert outcome.status == "failed", path
        assert "a loopback address" in outcome.error and "not a redirect from another host" in outcome.error


def test_private_addresses_are_refused_through_a_redirect_from_another_host(server, client):
    server.route("/to-private", status=307, headers={"Location": "http://intranet.test/admin"})
    resolve = Resolver(feeds_test=[["127.0.0.1"]], intranet_test=[["10.1.2.3"]])
    outcome = get(client, f"http://feeds.test:{server.port}/to-private", resolve)
    assert outcome.status == "failed" and "10.1.2.3, a private address" in outcome.error


def test_the_address_that_was_checked_is_the_one_connected_to(server, client):
    """DNS rebinding: the second answer (metadata) would be used by a client that resolves again."""
    route = server.route("/rebind", body=b"<rss/>")
    resolve = Resolver(rebind_test=[["127.0.0.1"], ["169.254.169.254"]])
    outcome = get(client, f"http://rebind.test:{server.port}/rebind", resolve)
    assert (outcome.status, outcome.body) == ("ok", b"<rss/>")
    assert resolve.lookups == ["rebind.test"]  # resolved once, and that answer was used
    assert route.requests[-1]["host"] == f"rebind.test:{server.port}"  # the server still sees the name
    assert get(client, f"http://rebind.test:{server.port}/rebind", resolve).status == "failed"  # its next answer


def test_redirects_to_other_schemes_or_with_credentials_are_not_followed(server, client):
    for n, location in enumerate(["file:///etc/passwd", "ftp://example.org/feed", "gopher://127.0.0.1:6379/_",
                                  f"http://user:secret@127.0.0.1:{server.port}/own"]):
        server.route(f"/odd-{n}", status=301, headers={"Location": location})
        outcome = get(client, server.url(f"/odd-{n}"))
        assert outcome.status == "failed" and "redirects to" in outcome.error
        assert "secret" not in outcome.error


@pytest.fixture(scope="module")
def named_tls(tmp_path_factory) -> tuple[Path, Path]:
    """A certificate for the name feeds.test only (not for 127.0.0.1)."""
    folder = tmp_path_factory.mktemp("named-tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=feeds.test", "-addext", "subjectAltName=DNS:feeds.test"],
                   check=True, capture_output=True)
    return cert, key


def test_tls_keeps_the_url_name_for_sni_and_the_certificate_check(named_tls):
    cert, key = named_tls
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    names: list[str | None] = []
    context.sni_callback = lambda sock, name, ctx: names.append(name)
    resolve = Resolver(feeds_test=[["127.0.0.1"]], other_test=[["127.0.0.1"]])
    with running_server(context) as tls, httpx.Client(verify=ssl.create_default_context(cafile=str(cert))) as client:
        route = tls.route("/atom", body=ATOM)
        outcome = get(client, f"https://feeds.test:{tls.port}/atom", resolve)
        assert (outcome.status, outcome.body) == ("ok", ATOM)
        assert names == ["feeds.test"] and route.requests[-1]["host"] == f"feeds.test:{tls.port}"
        wrong = get(client, f"https://other.test:{tls.port}/atom", resolve)  # same address, certificate not for it
        assert wrong.status == "failed" and "certificate" in wrong.error.lower()


@given(st.integers(0, 2**16 - 1))
def test_every_spelling_of_a_link_local_address_is_forbidden(low):
    v4 = ipaddress.IPv4Address((169 << 24) | (254 << 16) | low)
    spellings = [v4, ipaddress.IPv6Address(f"::ffff:{v4}"), ipaddress.IPv6Address(int(v4) | (0x64ff9b << 96)),
                 ipaddress.IPv6Address((0x2002 << 112) | (int(v4) << 80)), ipaddress.IPv6Address(f"fe80::{low:x}")]
    assert [classify(a)[0] for a in spellings] == ["forbidden"] * len(spellings)


# --- the CLI: adding, listing, polling ------------------------------------------------------------------


def test_sources_add_refuses_credentials_and_metadata_addresses_in_a_sentence(run, server):
    route = server.route("/never", body=ATOM)
    for url in (f"http://user:secret@127.0.0.1:{server.port}/never", f"https://token:secret@{server.base[7:]}/x",
                "http://169.254.169.254/latest/meta-data/", "http://[::ffff:169.254.169.254]/",
                "http://[fd00:ec2::254]/"):
        code, out, err = run("sources", "add", url)
        assert code == 1 and "Traceback" not in err and "secret" not in out + err, err
        assert "user name or password" in err or "may never reach" in err
    assert route.requests == []  # refused before any fetch
    assert run("sources", "list", "--json")[1].strip() == ""


def test_a_source_that_has_credentials_never_shows_them(run, server, env):
    server.route("/private-feed", status=500, body=b"oops")
    assert run("sources", "list")[0] == 0  # creates the database
    db = open_database(f"sqlite:///{Path(env['PAPERPOST_DATA']) / 'paperpost.db'}")
    try:
        with db.session() as session:  # as an older release stored it
            session.execute(text("INSERT INTO sources (name, url, kind, active, failures, created_at) VALUES "
                                 "('locked', :url, 'rss', :yes, 0, '2026-01-01 00:00:00.000000')"),
                            {"url": f"http://reader:hunter2@127.0.0.1:{server.port}/private-feed", "yes": True})
    finally:
        db.dispose()
    outputs = [run("poll"), run("poll", "--json"), run("sources", "list"), run("sources", "list", "--json")]
    assert all(code in (0, 1) for code, _, _ in outputs)
    shown = "".join(out + err for _, out, err in outputs)
    assert "hunter2" not in shown and "reader:" not in shown
    assert "[redacted]@127.0.0.1" in shown and "HTTP 500" in shown


def test_a_permanent_redirect_is_shown_and_followed_only_once_accepted(run, server):
    server.route("/cli-old", status=301, headers={"Location": "/cli-new"})
    new = server.route("/cli-new", body=ATOM)
    assert run("sources", "add", server.url("/cli-old"), "--name", "old", "--kind", "arxiv")[0] == 0
    code, out, _ = run("poll")
    assert code == 0 and f"moved permanently to {server.url('/cli-new')}" in out
    code, out, _ = run("sources", "list")
    assert "moved permanently to" in out and "sources accept-move old" in out
    (row,) = [json.loads(line) for line in run("sources", "list", "--json")[1].splitlines()]
    assert (row["url"], row["moved_to"]) == (server.url("/cli-old"), server.url("/cli-new"))
    assert run("sources", "accept-move", "old")[0] == 0
    (row,) = [json.loads(line) for line in run("sources", "list", "--json")[1].splitlines()]
    assert (row["url"], row["moved_to"]) == (server.url("/cli-new"), None)
    code, _, err = run("sources", "accept-move", "old")
    assert code == 1 and "has not moved" in err


def test_a_feed_with_script_links_leaves_none_in_the_stored_papers(run, server):
    server.route("/script-links.xml", body=rss(HOSTILE_HREFS + [GOOD_HREF]))
    assert run("sources", "add", server.url("/script-links.xml"), "--name", "evil", "--kind", "rss")[0] == 0
    assert run("poll")[0] == 0
    code, out, _ = run("papers", "--json")
    stored = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and len(stored) == len(HOSTILE_HREFS) + 1
    links = [url for paper in stored for url in paper["links"].values()]
    assert links and all(web_only(url) for url in links)


def test_the_moved_to_column_arrives_with_every_source_kept(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    from alembic import command
    from alembic.config import Config as AlembicConfig

    from bot.store.database import MIGRATIONS_DIR, make_engine

    engine = make_engine(url)
    with engine.begin() as connection:
        config = AlembicConfig()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        config.attributes["connection"] = connection
        command.upgrade(config, "0002")
        connection.execute(text("INSERT INTO sources (name, url, kind, active, failures, created_at, last_error) "
                                "VALUES ('a', 'https://example.org/feed', 'rss', 1, 3, '2026-01-01 00:00:00', 'x')"))
    engine.dispose()
    db = open_database(url)
    try:
        with db.session() as session:
            (kept,) = sources.list_sources(session)
        assert (kept.name, kept.url, kept.failures, kept.last_error, kept.moved_to) == (
            "a", "https://example.org/feed", 3, "x", None)
    finally:
        db.dispose()


@pytest.mark.parametrize("text, shown", [
    ("could not process http://u:p@127.0.0.1/x: ValueError", "could not process http://[redacted]@127.0.0.1/x: ValueError"),
    ("https://a@b:c@host/feed and ftp://x:y@h/", "https://[redacted]@host/feed and ftp://[redacted]@h/"),
    ("https://host/path@not-a-user", "https://host/path@not-a-user"),
])
def test_errors_are_stored_with_the_credentials_of_every_url_hidden(db, text, shown):
    now = datetime(2026, 1, 5, tzinfo=timezone.utc)
    with db.session() as session:
        source = sources.add_source(session, "s", "https://example.org/feed", "rss", now)
        sources.record_poll(session, source.id, now, last_error=text)
    with db.session() as session:
        assert sources.get_source(session, "s").last_error == shown


header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xff, blacklist_characters="\x7f"), max_size=60)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(header_text, st.builds(lambda scheme, rest: f"{scheme}{rest}",
                                        st.sampled_from(["http://", "https://", "//", "http://[", "http://a:", "/"]),
                                        header_text)))
def test_any_location_header_gives_an_outcome_never_an_exception(server, client, location):
    path = "/any-location"
    server.route(path, status=302, headers={"Location": location})
    # Any other host resolves to a documentation address: refused like a private one, never connected to.
    outcome = fetch(client, FetchState(server.url(path)), user_agent=UA, clock=lambda: NOW, timeout=0.5,
                    resolve=lambda host, port: ["127.0.0.1"] if host == "127.0.0.1" else ["203.0.113.9"])
    assert outcome.status in ("ok", "failed", "moved", "not_modified", "gone")
    if outcome.status == "failed":
        assert outcome.error
