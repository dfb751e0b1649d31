"""Fetching against a real HTTP server on 127.0.0.1: validators, redirects, faults, limits, pacing, files."""

import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest

from bot.sources.fetch import FetchState, HostPacer, fetch, is_due, next_attempt_after, user_agent
from bot.sources.parsing import parse_feed
from feedserver import running_server

FIXTURES = Path(__file__).parent / "fixtures"
ATOM = (FIXTURES / "arxiv_rss_atom_new_format.xml").read_bytes()
NOW = datetime(2026, 1, 5, 8, 0, tzinfo=timezone.utc)
UA = user_agent("1.2.3", "https://papers.example.org")


def clock() -> datetime:
    return NOW


@pytest.fixture(scope="module")
def server():
    with running_server() as srv:
        yield srv


@pytest.fixture
def client():
    with httpx.Client() as c:
        yield c


def get(client, url_or_state, **kwargs):
    state = url_or_state if isinstance(url_or_state, FetchState) else FetchState(url=url_or_state)
    kwargs.setdefault("max_bytes", 5_000_000)
    return fetch(client, state, user_agent=UA, clock=clock, **kwargs)


def test_user_agent_names_version_and_site():
    assert UA == "paperpost/1.2.3 (+https://papers.example.org)"


def test_200_then_304_with_etag_and_last_modified(server, client):
    route = server.route("/atom", body=ATOM, etag='"v1"', last_modified="Wed, 20 Aug 2025 04:00:19 GMT")
    first = get(client, server.url("/atom"))
    assert (first.status, first.http_status, first.body) == ("ok", 200, ATOM)
    assert (first.state.etag, first.state.last_modified) == ('"v1"', "Wed, 20 Aug 2025 04:00:19 GMT")
    assert route.requests[0]["user-agent"] == UA
    assert len(parse_feed("arxiv", first.body).papers) == 86
    second = get(client, first.state)
    assert (second.status, second.body, second.has_body) == ("not_modified", b"", False)
    assert route.requests[1]["if-none-match"] == '"v1"'
    assert route.requests[1]["if-modified-since"] == "Wed, 20 Aug 2025 04:00:19 GMT"
    assert second.state == first.state


def test_permanent_redirect_is_remembered(server, client):
    server.route("/old", status=301, headers={"Location": "/new"})
    server.route("/new", body=b"<rss/>")
    outcome = get(client, server.url("/old"))
    assert (outcome.status, outcome.new_url, outcome.body) == ("moved", server.url("/new"), b"<rss/>")
    assert outcome.state.url == server.url("/new")


def test_temporary_redirect_is_followed_not_remembered(server, client):
    server.route("/tmp", status=302, headers={"Location": "/new"})
    server.route("/new", body=b"<rss/>")
    outcome = get(client, server.url("/tmp"))
    assert (outcome.status, outcome.new_url, outcome.state.url) == ("ok", None, server.url("/tmp"))


def test_redirect_loop_fails(server, client):
    server.route("/loop", status=301, headers={"Location": "/loop"})
    outcome = get(client, server.url("/loop"))
    assert outcome.status == "failed" and "redirects" in outcome.error


def test_410_is_gone(server, client):
    server.route("/gone", status=410, body=b"gone")
    outcome = get(client, server.url("/gone"))
    assert outcome.status == "gone" and "410" in outcome.error


def test_500_counts_a_failure_and_backs_off(server, client):
    server.route("/broken", status=500, body=b"oops")
    state = FetchState(url=server.url("/broken"), etag='"keep"', failures=2)
    outcome = get(client, state)
    assert (outcome.status, outcome.http_status) == ("failed", 500)
    assert "HTTP 500" in outcome.error
    assert outcome.state.failures == 3 and outcome.state.etag == '"keep"'
    assert outcome.state.next_attempt_at == NOW + next_attempt_after(3)
    assert not is_due(outcome.state, NOW) and is_due(outcome.state, NOW + timedelta(hours=13))


def test_retry_after_longer_than_backoff_is_honoured(server, client):
    server.route("/busy", status=503, headers={"Retry-After": "7200"})
    outcome = get(client, server.url("/busy"))
    assert outcome.state.next_attempt_at == NOW + timedelta(hours=2)


def test_success_resets_failures(server, client):
    server.route("/back", body=b"<rss/>")
    outcome = get(client, FetchState(url=server.url("/back"), failures=4, next_attempt_at=NOW))
    assert (outcome.state.failures, outcome.state.next_attempt_at) == (0, None)


def test_slow_server_times_out(server, client):
    server.route("/slow", body=b"<rss/>", delay=1.0)
    outcome = get(client, server.url("/slow"), timeout=0.2)
    assert outcome.status == "failed" and "did not answer within 0.2 s" in outcome.error
    assert outcome.state.failures == 1


def test_trickling_body_hits_the_deadline(server, client):
    server.route("/trickle", body=b"x" * 200, chunks=20, chunk_delay=0.05)
    outcome = get(client, server.url("/trickle"), timeout=0.3)
    assert outcome.status == "failed" and "did not answer" in outcome.error


@pytest.mark.parametrize("send_length", [True, False])
def test_oversized_body_is_refused(server, client, send_length):
    server.route("/big", body=b"<rss>" + b"x" * 300_000, send_length=send_length)
    outcome = get(client, server.url("/big"), max_bytes=100_000)
    assert outcome.status == "failed" and "100000-byte limit" in outcome.error and outcome.body == b""


def test_connection_refused_is_a_failure(client):
    with running_server() as srv:
        url = srv.url("/x")
    outcome = get(client, url)
    assert outcome.status == "failed" and outcome.error.startswith("could not fetch")


def test_file_url_uses_mtime_so_an_unchanged_file_is_not_modified(tmp_path, client):
    feed = tmp_path / "seed papers.json"
    feed.write_bytes(b"[]")
    first = get(client, feed.as_uri())
    assert (first.status, first.body) == ("ok", b"[]") and first.state.last_modified
    assert get(client, first.state).status == "not_modified"
    assert get(client, FetchState(url=str(feed), last_modified=first.state.last_modified)).status == "not_modified"
    feed.write_bytes(b'[{"paper": {"id": "2401.00001", "title": "T"}}]')
    later = feed.stat().st_mtime_ns + 2_000_000_000  # a rewrite within the same second must count too
    os.utime(feed, ns=(later, later))
    changed = get(client, first.state)
    assert changed.status == "ok" and b"2401.00001" in changed.body


def test_missing_file_fails(tmp_path, client):
    outcome = get(client, str(tmp_path / "nope.xml"))
    assert outcome.status == "failed" and "could not read" in outcome.error


def test_backoff_doubles_up_to_a_cap():
    steps = [next_attempt_after(n) for n in range(0, 12)]
    assert steps[:4] == [timedelta(0), timedelta(minutes=5), timedelta(minutes=10), timedelta(minutes=20)]
    assert steps[-1] == timedelta(hours=12) and next_attempt_after(10_000) == timedelta(hours=12)


class FakeTime:
    """A monotonic clock whose sleep advances it: pacing tests take no real time."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_pacer_keeps_3_seconds_between_arxiv_requests_only():
    t = FakeTime()
    pacer = HostPacer(clock=t.clock, sleep=t.sleep)
    assert pacer.wait("https://rss.arxiv.org/atom/cs.AI") == 0
    assert pacer.wait("https://example.org/feed") == 0  # other hosts are not paced
    assert pacer.wait("https://example.org/feed2") == 0
    t.now += 1.0
    assert pacer.wait("https://rss.arxiv.org/atom/cs.CL") == pytest.approx(2.0)
    assert pacer.wait("https://export.arxiv.org/api/query") == pytest.approx(3.0)  # one budget for arXiv
    t.now += 10
    assert pacer.wait("https://rss.arxiv.org/atom/cs.CV") == 0


def test_fetch_waits_on_the_pacer_for_each_request(server, client):
    server.route("/p", body=b"<rss/>")
    t = FakeTime()
    pacer = HostPacer(intervals={"127.0.0.1": 3.0}, clock=t.clock, sleep=t.sleep)
    for _ in range(3):
        assert get(client, server.url("/p"), pacer=pacer).status == "ok"
    assert t.slept == [pytest.approx(3.0), pytest.approx(3.0)]
