"""Polling end to end: a real HTTP server on 127.0.0.1 -> fetch -> parse -> a temp SQLite store.

Every fault of issue 3 goes through `poll_sources` / `poll_one` and is checked
on the stored rows: papers, their sources, and the source's recorded state.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest

from bot.sources.fetch import HostPacer, next_attempt_after, user_agent
from bot.jobs.match import match_pending
from bot.models import SubscriberInput
from bot.jobs.poll import MAX_CONSECUTIVE_FAILURES, Poller, poll_one, poll_sources
from bot.store import matches, open_database, papers, sources, subscribers
from bot.store.schema import PaperRow
from feedserver import running_server

FIXTURES = Path(__file__).parent / "fixtures"
ATOM = (FIXTURES / "arxiv_rss_atom_new_format.xml").read_bytes()
HF = (FIXTURES / "hf_daily_papers.json").read_bytes()
NOW = datetime(2026, 1, 5, 8, 0, tzinfo=timezone.utc)
HEADER = ATOM[:ATOM.index(b"<entry>")]
FIRST_ENTRY = ATOM[ATOM.index(b"<entry>"):ATOM.index(b"</entry>") + len(b"</entry>")]


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(scope="module")
def server():
    with running_server() as srv:
        yield srv


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def poller(clock):
    with httpx.Client() as client:
        yield Poller(client=client, user_agent=user_agent("9.9", None), clock=clock, pacer=HostPacer(),
                     timeout=0.5, max_bytes=1_000_000)


@pytest.fixture
def db(tmp_path):
    database = open_database(f"sqlite:///{tmp_path / 'poll.db'}")
    yield database
    database.dispose()


def add(db, name, url, kind="arxiv"):
    with db.session() as s:
        return sources.add_source(s, name, url, kind, NOW)


def source(db, name):
    with db.session() as s:
        return sources.get_source(s, name)


def stored(db):
    with db.session() as s:
        return {paper.id: (paper, names) for paper, names in papers.list_papers(s)}


def poll(db, poller, name):
    return poll_one(db, poller, source(db, name))


def test_200_stores_the_86_papers_and_a_304_reparses_nothing(server, db, poller, clock):
    route = server.route("/cs.AI", body=ATOM, etag='"day1"', last_modified="Wed, 20 Aug 2025 04:00:19 GMT")
    add(db, "cs.AI", server.url("/cs.AI"))
    first = poll(db, poller, "cs.AI")
    assert (first.status, first.new, first.updated, first.known, first.error) == ("ok", 86, 0, 0, None)
    rows = stored(db)
    assert len(rows) == 86 and all(names == ["cs.AI"] for _, names in rows.values())
    assert sum(p.announce_type == "new" for p, _ in rows.values()) == 41
    kept = source(db, "cs.AI")
    assert (kept.etag, kept.last_modified, kept.failures, kept.last_error) == (
        '"day1"', "Wed, 20 Aug 2025 04:00:19 GMT", 0, None)

    clock.now = NOW + timedelta(hours=1)
    second = poll(db, poller, "cs.AI")
    assert (second.status, second.new, second.updated, second.known) == ("not_modified", 0, 0, 0)
    assert route.requests[1]["if-none-match"] == '"day1"'
    # Nothing was re-parsed or re-stored: a stored paper still carries the first poll's sighting.
    with db.session() as s:
        assert {row.last_seen for row in s.query(PaperRow)} == {NOW}
    assert source(db, "cs.AI").last_polled == NOW + timedelta(hours=1)


def test_polling_the_same_sources_twice_stores_nothing_twice(server, db, poller):
    server.route("/twice", body=ATOM)  # no validators: the whole body comes back and is parsed again
    add(db, "twice", server.url("/twice"))
    assert poll(db, poller, "twice").new == 86
    again = poll(db, poller, "twice")
    assert (again.status, again.new, again.updated, again.known) == ("ok", 0, 0, 86)
    rows = stored(db)
    assert len(rows) == 86 and all(names == ["twice"] for _, names in rows.values())


def test_a_cross_list_in_two_category_feeds_is_one_row(server, db, poller):
    # The first entry is `new` in its primary category's feed and `cross` in another one.
    cross = ATOM.replace(b"<arxiv:announce_type>new</arxiv:announce_type>",
                         b"<arxiv:announce_type>cross</arxiv:announce_type>", 1)
    server.route("/cs.AI-cross", body=cross)
    server.route("/cs.CL-new", body=HEADER + FIRST_ENTRY + b"</feed>")
    add(db, "cs.AI", server.url("/cs.AI-cross"))
    add(db, "cs.CL", server.url("/cs.CL-new"))
    assert poll(db, poller, "cs.AI").new == 86
    second = poll(db, poller, "cs.CL")
    assert (second.new, second.known) == (0, 1)
    rows = stored(db)
    paper, names = rows["arxiv:2508.13167"]
    assert len(rows) == 86 and names == ["cs.AI", "cs.CL"]
    assert paper.announce_type == "new" and paper.categories == ("cs.AI", "cs.CL")


def test_arxiv_and_hugging_face_copies_of_one_paper_are_one_row(server, db, poller):
    items = json.loads(HF)
    items[0]["paper"]["id"] = "2508.13167"  # the HF copy of the first paper of the arXiv feed
    server.route("/atom", body=ATOM)
    server.route("/daily", body=json.dumps(items).encode())
    add(db, "arxiv", server.url("/atom"))
    add(db, "hf", server.url("/daily"), "hf")
    assert [r.new for r in poll_sources(db, poller, force=True)] == [86, 1]
    rows = stored(db)
    paper, names = rows["arxiv:2508.13167"]
    assert len(rows) == 87 and names == ["arxiv", "hf"]
    assert paper.upvotes == items[0]["paper"]["upvotes"] and paper.upvotes is not None
    assert paper.version == 1 and paper.announce_type == "new"
    assert paper.title.startswith("Chain-of-Agents")  # the arXiv record, upvotes merged in
    assert paper.links["hf"] == "https://huggingface.co/papers/2508.13167"
    assert paper.thumbnail == items[0]["thumbnail"]


def test_a_v2_replacement_updates_the_row_and_never_matches_again(server, db, poller, clock):
    route = server.route("/daily-feed", body=HEADER + FIRST_ENTRY + b"</feed>")
    add(db, "cs.AI", server.url("/daily-feed"))
    with db.session() as s:
        subscribers.save_subscriber(s, SubscriberInput(email="ada@example.org", interests=("chain of agents",)),
                                    "active", NOW)
        ada = subscribers.find_subscriber(s, "ada@example.org")
    match_pending(db, clock(), recent_days=3, trending_top=5)  # the new profile's backfill: nothing yet
    assert poll(db, poller, "cs.AI").new == 1
    first = match_pending(db, clock(), recent_days=3, trending_top=5)
    assert (first.papers, first.matches) == (1, 1)

    replacement = (FIRST_ENTRY.replace(b"2508.13167v1", b"2508.13167v2")
                   .replace(b"Announce Type: new", b"Announce Type: replace")
                   .replace(b"announce_type>new<", b"announce_type>replace<")
                   .replace(b"2025-08-20T00:00:00-04:00", b"2025-08-27T00:00:00-04:00"))
    route.body = HEADER + replacement + b"</feed>"
    clock.now = NOW + timedelta(days=7)
    second = poll(db, poller, "cs.AI")
    assert (second.new, second.updated) == (0, 1)
    paper, _ = stored(db)["arxiv:2508.13167"]
    assert (paper.version, paper.announce_type) == (2, "replace")
    assert paper.published == datetime(2025, 8, 20, 4, tzinfo=timezone.utc)  # first announcement kept
    assert paper.updated == datetime(2025, 8, 27, 4, tzinfo=timezone.utc)  # the replacement's date
    again = match_pending(db, clock(), recent_days=3, trending_top=5)
    assert (again.papers, again.matches) == (0, 0)
    with db.session() as s:
        assert papers.unmatched_papers(s) == []
        assert [m.paper_id for m in matches.unsent_matches(s, ada.id)] == ["arxiv:2508.13167"]


def test_permanent_redirect_is_followed_recorded_and_the_url_kept_until_accepted(server, db, poller):
    old = server.route("/moved-feed", status=301, headers={"Location": "/moved-here"})
    new = server.route("/moved-here", body=ATOM)
    add(db, "moved", server.url("/moved-feed"))
    report = poll(db, poller, "moved")
    assert (report.status, report.new, report.moved_to) == ("ok", 86, server.url("/moved-here"))
    kept = source(db, "moved")
    assert (kept.url, kept.moved_to) == (server.url("/moved-feed"), server.url("/moved-here"))
    poll(db, poller, "moved")
    assert (len(old.requests), len(new.requests)) == (2, 2)  # still through the operator's URL
    with db.session() as session:
        sources.accept_move(session, "moved")
    poll(db, poller, "moved")
    assert (len(old.requests), len(new.requests)) == (2, 3)  # accepted: straight to the new URL
    assert (source(db, "moved").url, source(db, "moved").moved_to) == (server.url("/moved-here"), None)


def test_410_switches_the_source_off(server, db, poller):
    server.route("/gone-feed", status=410, body=b"gone")
    add(db, "gone", server.url("/gone-feed"))
    report = poll(db, poller, "gone")
    assert (report.status, report.deactivated) == ("gone", True)
    kept = source(db, "gone")
    assert not kept.active and "410" in kept.last_error
    assert poll_sources(db, poller, force=True) == []  # an inactive source is no longer polled


def test_500_and_timeout_are_recorded_with_backoff_and_the_others_still_polled(server, db, poller, clock):
    server.route("/broken", status=500, body=b"oops")
    server.route("/slow", body=ATOM, delay=1.5)
    server.route("/fine", body=ATOM)
    add(db, "a-broken", server.url("/broken"))
    add(db, "b-slow", server.url("/slow"))
    add(db, "c-fine", server.url("/fine"))
    started = []
    reports = poll_sources(db, poller, on_start=lambda s: started.append(s.name))
    assert started == ["a-broken", "b-slow", "c-fine"]
    assert [(r.source, r.status, r.new) for r in reports] == [
        ("a-broken", "failed", 0), ("b-slow", "failed", 0), ("c-fine", "ok", 86)]
    assert "HTTP 500" in reports[0].error and "did not answer within 0.5 s" in reports[1].error
    for name in ("a-broken", "b-slow"):
        kept = source(db, name)
        assert (kept.failures, kept.next_attempt_at, kept.active) == (1, NOW + next_attempt_after(1), True)
        assert kept.last_error
    # Backing off: not due before the backoff has passed, due after it (and the interval).
    assert not poller.due(source(db, "a-broken"), NOW + timedelta(minutes=4))
    assert poller.due(source(db, "a-broken"), NOW + timedelta(minutes=16))
    clock.now = NOW + timedelta(minutes=16)
    assert poll(db, poller, "a-broken").status == "failed"
    kept = source(db, "a-broken")
    assert (kept.failures, kept.next_attempt_at) == (2, clock.now + next_attempt_after(2))


def test_many_failures_in_a_row_switch_the_source_off(server, db, poller):
    server.route("/always-broken", status=503, body=b"down")
    created = add(db, "flaky", server.url("/always-broken"))
    with db.session() as s:
        sources.record_poll(s, created.id, NOW, failures=MAX_CONSECUTIVE_FAILURES - 1)
    report = poll(db, poller, "flaky")
    assert (report.status, report.deactivated) == ("failed", True)
    kept = source(db, "flaky")
    assert (kept.active, kept.failures) == (False, MAX_CONSECUTIVE_FAILURES)
    assert "switched off" in kept.last_error and "sources enable flaky" in kept.last_error


def test_malformed_xml_keeps_its_entries_and_never_counts_as_complete(server, db, poller):
    broken = ATOM.replace(b"</title>", b"</titl>", 1)
    route = server.route("/malformed", body=broken, etag='"m1"')
    add(db, "malformed", server.url("/malformed"))
    report = poll(db, poller, "malformed")
    assert (report.status, report.new) == ("partial", 86)
    assert "not well-formed" in report.error
    kept = source(db, "malformed")
    # The error is recorded and the validators forgotten: the next poll fetches the listing whole.
    assert (kept.etag, kept.failures, kept.last_error) == (None, 0, report.error)
    poll(db, poller, "malformed")
    assert "if-none-match" not in route.requests[1]


def test_a_feed_cut_off_mid_entry_keeps_the_complete_entries(server, db, poller):
    cut = ATOM[:ATOM.index(b"</entry>", 50_000) + 200]  # stops inside the next entry
    server.route("/cut", body=cut, etag='"c1"')
    add(db, "cut", server.url("/cut"))
    report = poll(db, poller, "cut")
    closed = cut.count(b"</entry>")
    assert (report.status, report.new) == ("partial", closed)
    assert len(stored(db)) == closed and "kept the" in report.error
    assert source(db, "cut").etag is None
    # The complete listing later fills in the rest and changes nothing already stored.
    server.route("/cut", body=ATOM)
    later = poll(db, poller, "cut")
    assert (later.status, later.new, later.known) == ("ok", 86 - closed, closed)
    assert source(db, "cut").last_error is None


def test_an_html_page_is_a_failure_with_a_clear_error(server, db, poller):
    server.route("/login", body=b"<!DOCTYPE html><html><head><title>Sign in</title></head><body>x</body></html>",
                 headers={"Content-Type": "text/html; charset=utf-8"})
    add(db, "html", server.url("/login"), "rss")
    report = poll(db, poller, "html")
    assert (report.status, report.new) == ("failed", 0)
    kept = source(db, "html")
    assert kept.failures == 1 and "HTML page" in kept.last_error and stored(db) == {}


def test_an_empty_weekend_feed_is_normal(server, db, poller):
    server.route("/weekend", body=HEADER + b"</feed>", etag='"sat"')
    add(db, "weekend", server.url("/weekend"))
    report = poll(db, poller, "weekend")
    assert (report.status, report.new, report.error) == ("ok", 0, None)
    kept = source(db, "weekend")
    assert (kept.failures, kept.last_error, kept.etag) == (0, None, '"sat"')


def test_an_oversized_body_is_refused(server, db, poller):
    server.route("/huge", body=ATOM * 8)  # about 1.4 MB over the poller's 1 MB limit
    add(db, "huge", server.url("/huge"))
    report = poll(db, poller, "huge")
    assert report.status == "failed" and "1000000-byte limit" in report.error
    assert stored(db) == {} and source(db, "huge").failures == 1


def test_a_body_in_a_declared_non_utf8_encoding_is_read_right(server, db, poller):
    feed = ('<?xml version="1.0" encoding="ISO-8859-1"?>\n<rss version="2.0"><channel><title>Lab</title>'
            '<link>https://lab.example.org/</link><description>d</description>'
            '<item><title>Réseaux de neurones à Zürich</title><link>https://lab.example.org/p/1</link>'
            '<guid>https://lab.example.org/p/1</guid><author>m@example.org (María Ramírez)</author>'
            '<description>Über die Konvergenz</description></item></channel></rss>').encode("iso-8859-1")
    server.route("/latin1", body=feed, headers={"Content-Type": "application/rss+xml"})
    add(db, "latin1", server.url("/latin1"), "rss")
    assert poll(db, poller, "latin1").new == 1
    (paper, _), = stored(db).values()
    assert paper.title == "Réseaux de neurones à Zürich" and paper.abstract == "Über die Konvergenz"


def test_a_crash_on_one_source_is_recorded_and_the_others_still_polled(server, db, poller):
    server.route("/fine2", body=ATOM)
    add(db, "a-odd", server.url("/fine2"), "no-such-kind")  # the parser lookup raises for this one
    add(db, "b-fine", server.url("/fine2"))
    reports = poll_sources(db, poller, force=True)
    assert [(r.status, r.new) for r in reports] == [("failed", 0), ("ok", 86)]
    assert "no-such-kind" in source(db, "a-odd").last_error and source(db, "a-odd").failures == 1
