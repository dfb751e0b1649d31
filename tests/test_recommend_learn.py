"""The learn step: learned scores and "You may also like" rows written at plan time, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from feedserver import running_server
from mailworld import Clock, make_app
from readerworld import topic_papers

from bot.app import App
from bot.channels.email.digest_mail import load_digest
from bot.config import load_config
from bot.jobs.learn import Learner
from bot.jobs.plan import plan_digests
from bot.models import Match, SubscriberInput
from bot.profile import ProfileIndex
from bot.store import matches, outbox, papers, subscribers, suggestions
from bot.store.votes import set_vote

sys.path.insert(0, str(Path(__file__).parent / "bench"))
from day_data import write_feed  # noqa: E402

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
PAPERS = topic_papers({"cs.CV": 30, "cs.CL": 60})
VISION = sorted(p.id for p in PAPERS if p.categories == ("cs.CV",))
LANGUAGE = sorted(p.id for p in PAPERS if p.categories == ("cs.CL",))
KEYWORD = "ti:segmentation"  # in the titles of a few vision papers


def person(session, email: str, interests: tuple[str, ...]) -> int:
    return subscribers.save_subscriber(session, SubscriberInput(email, interests), "active", NOW)[0].id


def store_world(db, interests: dict[str, tuple[str, ...]]) -> dict[str, int]:
    """The papers, and people whose keyword matches over them are stored (as the match step would)."""
    with db.session() as session:
        papers.upsert_papers(session, PAPERS, None, NOW)
        papers.mark_matched(session, [p.id for p in PAPERS], NOW)
        ids = {email: person(session, email, lines) for email, lines in interests.items()}
        index = ProfileIndex.build([(ids[e], list(lines)) for e, lines in interests.items()])
        matches.save_match_rows(session, index.match_sets(PAPERS).rows(), NOW)
    return ids


def unsent_suggestions(db, subscriber_id: int) -> list[Match]:
    with db.session() as session:
        return [m for m in matches.unsent_matches(session, subscriber_id) if m.suggested]


def test_store_functions_replace_unsent_suggestions_and_never_touch_sent_rows(db):
    ids = store_world(db, {"vera@example.org": (KEYWORD,)})
    vera = ids["vera@example.org"]
    with db.session() as session:
        keyword = suggestions.unsent_keyword_papers(session, [vera])[vera]
        assert keyword and set(keyword) <= set(VISION)
        free = [p for p in VISION if p not in keyword]
        assert suggestions.replace_suggestions(session, [vera], [(vera, free[0], 0.5, VISION[0]),
                                                                 (vera, keyword[0], 0.9, VISION[0])], NOW) == 1
        suggestions.set_learned(session, [(vera, keyword[0], 0.25)])
        assert suggestions.taken_papers(session, [vera])[vera] == set(keyword)  # unsent suggestions are not taken
    with db.session() as session:
        carried = matches.unsent_matches(session, vera)
        assert [(m.paper_id, m.learned, m.suggested_from, m.interests, m.score) for m in carried if m.suggested] == [
            (free[0], 0.5, VISION[0], (), 0.0)]
        assert next(m.learned for m in carried if m.paper_id == keyword[0]) == 0.25
        outbox_id = outbox.plan(session, vera, "email", "digest", "2026-11-28", NOW)
        matches.attach_unsent(session, [outbox_id], "email")  # the digest takes the suggestion with the rest
    with db.session() as session:
        assert suggestions.replace_suggestions(session, [vera], [(vera, free[1], 0.4, VISION[0])], NOW) == 1
        assert free[0] in suggestions.taken_papers(session, [vera])[vera]  # a sent suggestion is never made again
        suggestions.forget_learned(session, [vera])
    with db.session() as session:
        assert unsent_suggestions(db, vera) == []
        sent = matches.matches_of_outbox(session, outbox_id)
        assert [(m.paper_id, m.suggested_from) for m in sent if m.suggested] == [(free[0], VISION[0])]
        assert next(m.learned for m in sent if m.paper_id == keyword[0]) == 0.25  # what was sent stays as sent


def test_the_learn_step_is_bounded_and_replaces_across_runs(db):
    ids = store_world(db, {"vera@example.org": (KEYWORD,), "lin@example.org": ("dialogue",)})
    vera, lin = ids["vera@example.org"], ids["lin@example.org"]
    with db.session() as session:
        for paper_id in VISION[:3]:
            set_vote(session, vera, paper_id, 1, NOW)
    for day in range(3):
        with db.session() as session:
            report = Learner(NOW + timedelta(days=day), recent_days=3).learn(session, [vera, lin])
        assert (report.readers, report.suggested) == (1, 3)
        made = unsent_suggestions(db, vera)
        assert len(made) == 3 and all(m.paper_id in VISION and m.suggested_from in VISION[:3] for m in made)
    with db.session() as session:
        keyword = [m for m in matches.unsent_matches(session, vera) if not m.suggested]
        assert keyword and all(m.learned is not None for m in keyword)
        assert all(m.learned is None for m in matches.unsent_matches(session, lin))  # no votes: nothing learned
        for paper_id in VISION[:3]:
            set_vote(session, vera, paper_id, None, NOW)
    with db.session() as session:  # the votes went: so does what they taught, before the next digest
        assert Learner(NOW, recent_days=3).learn(session, [vera]).readers == 0
    with db.session() as session:
        assert all(m.learned is None and not m.suggested for m in matches.unsent_matches(session, vera))


def test_one_pass_clears_what_earlier_votes_taught_in_any_of_its_groups(db):
    ids = store_world(db, {"vera@example.org": (KEYWORD,), "lin@example.org": (KEYWORD,), "ana@example.org": ("dialogue",)})
    vera, lin, ana = ids["vera@example.org"], ids["lin@example.org"], ids["ana@example.org"]
    with db.session() as session:
        for reader in (vera, lin):
            for paper_id in VISION[:3]:
                set_vote(session, reader, paper_id, 1, NOW)
    with db.session() as session:
        assert Learner(NOW, recent_days=3).learn(session, [vera, lin]).readers == 2  # yesterday's pass
    with db.session() as session:
        for paper_id in VISION[:3]:
            set_vote(session, lin, paper_id, None, NOW)  # lin takes back every vote
    learner = Learner(NOW + timedelta(days=1), recent_days=3)  # today's pass, planned in groups
    for group in ([vera, ana], [lin]):
        with db.session() as session:
            learner.learn(session, group)
    assert len(unsent_suggestions(db, vera)) == 3
    with db.session() as session:
        for reader in (lin, ana):
            assert all(m.learned is None and not m.suggested for m in matches.unsent_matches(session, reader))


_SIGNED = re.compile(r"/(manage|unsubscribe|digest|vote)/[A-Za-z0-9_.-]+")


def digest_bytes(app: App, email: str) -> tuple[str, ...]:
    """The digest's text and HTML, its signed links blanked (each database signs with its own secrets)."""
    with app.db.session() as session:
        [item] = [i for i in outbox.list_outbox(session) if i.email == email]
        digest = load_digest(session, item, app.mail_context)
    return tuple(_SIGNED.sub(r"/\1/TOKEN", part) for part in app.mail_context.renderer.render_email("digest", digest=digest))


def test_a_subscriber_without_votes_gets_exactly_the_digest_without_the_learn_step(env, tmp_path):
    rendered = {}
    for learn in (True, False):
        app = make_app({**env, "PAPERPOST_DATA": str(tmp_path / f"learn-{learn}")}, Clock(NOW))
        ids = store_world(app.db, {"vera@example.org": (KEYWORD,), "lin@example.org": ("dialogue",)})
        with app.db.session() as session:
            for paper_id in VISION[:3]:
                set_vote(session, ids["vera@example.org"], paper_id, 1, NOW)
        report = plan_digests(app.db, NOW, ignore_hour=True, learn=learn)
        assert (report.planned, report.learned) == (2, 1 if learn else 0)
        rendered[learn] = {email: digest_bytes(app, email) for email in ids}
        app.close()
    assert rendered[True]["lin@example.org"] == rendered[False]["lin@example.org"]
    assert rendered[True]["vera@example.org"] != rendered[False]["vera@example.org"]  # the voter's did change


def test_learned_scores_reorder_a_digest_within_a_band_and_never_across(env):
    app = make_app(env, Clock(NOW))
    ids = store_world(app.db, {"vera@example.org": ("model", "ti:training")})
    vera = ids["vera@example.org"]
    with app.db.session() as session:
        for paper_id in VISION[:3]:
            set_vote(session, vera, paper_id, 1, NOW)
    plan_digests(app.db, NOW, ignore_hour=True)
    with app.db.session() as session:
        [item] = outbox.list_outbox(session)
        digest = load_digest(session, item, app.mail_context)
    app.close()
    shown = [(i.match.score // 10, i.match.learned) for i in digest.items]
    bands = [band for band, _ in shown]
    assert bands == sorted(bands, reverse=True)  # keyword evidence first, always
    for band in set(bands):
        learned = [value for b, value in shown if b == band]
        assert learned == sorted(learned, reverse=True)
    assert any(bands.count(band) > 2 for band in bands)  # a band with something to reorder
    top = [i.paper.id for i in digest.items if i.match.score // 10 == bands[-1]][:3]
    assert sum(p in VISION for p in top) >= 2  # in the broadest band, the vision papers rise to the top


def test_a_reader_who_liked_three_vision_papers_gets_vision_papers_no_keyword_found(run, env, tmp_path, monkeypatch):
    """Through the real CLI: a local arXiv feed, `subscribers add`, votes, `digest --now`; the digest sent."""
    feed = tmp_path / "feed.xml"
    write_feed(PAPERS, feed, datetime.now(UTC))
    with running_server() as server:
        server.route("/rss/cs", body=feed.read_bytes())
        assert run("sources", "add", server.url("/rss/cs"), "--name", "local", "--kind", "arxiv")[0] == 0
        assert run("poll")[0] == 0
    assert run("subscribers", "add", "vera@example.org", "--interests", KEYWORD)[0] == 0
    app = App(load_config())
    with app.db.session() as session:
        vera = subscribers.find_subscriber(session, "vera@example.org")
        liked = [p for p in VISION if "segmentation" not in papers.papers_by_id(session, [p])[p].title.lower()][:3]
        for paper_id in liked:
            set_vote(session, vera.id, paper_id, 1, datetime.now(UTC))
    code, out, err = run("digest", "--now")
    assert code == 0, err
    with app.db.session() as session:
        [item] = outbox.list_outbox(session)
        assert item.state == "sent"
        digest = load_digest(session, item, app.mail_context)
    app.close()
    keyword = {i.paper.id for i in digest.items}
    assert keyword and all("segmentation" in i.why for i in digest.items)
    suggested = [i.paper.id for i in digest.suggestions]
    assert len(suggested) == 3 and set(suggested) <= set(VISION) - set(liked)
    assert not set(suggested) & keyword  # never a paper a keyword already put in the digest
    assert all(i.liked.id in liked and i.why == f"like “{i.liked.title}”" for i in digest.suggestions)
