"""`like:PAPER` in the profile language (parsing, stored ids, matching) and `paperpost recommend`."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from readerworld import topic_papers

from bot.app import App
from bot.config import load_config
from bot.digest.evidence import with_hits
from bot.digest.highlight import why
from bot.errors import QueryError
from bot.jobs.match import match_pending
from bot.models import SubscriberInput
from bot.profile import Like, Not, Term, parse_interest, unknown_liked
from bot.channels.email.digest_mail import load_digest
from bot.jobs.plan import plan_digests
from bot.store import matches, outbox, papers, subscribers
from bot.store.votes import set_vote
from subscribers.importer import read_subscribers_file
from subscribers.validation import InvalidSubscriber, RawSubscriber, validate_subscriber

PAPERS = topic_papers({"cs.CV": 30, "cs.CL": 60})
VISION = sorted(p.id for p in PAPERS if p.categories == ("cs.CV",))
LANGUAGE = sorted(p.id for p in PAPERS if p.categories == ("cs.CL",))
LIKED = VISION[0]  # arxiv:2611.NNNNN
NOW = datetime.now(UTC)


@pytest.mark.parametrize("text", ["like:2401.12345", "like:arxiv:2401.12345", "like:arxiv:2401.12345v3",
                                  "like:https://arxiv.org/abs/2401.12345v2", "LIKE:2401.12345"])
def test_every_arxiv_form_is_the_stored_id(text):
    assert parse_interest(text) == Like("arxiv:2401.12345")


def test_like_combines_with_the_rest_and_other_ids_stay_as_stored():
    assert parse_interest("like:2401.12345 -survey").items == (Like("arxiv:2401.12345"), Not(Term("survey", "survey")))
    assert parse_interest("(like:2401.12345 OR rlhf) safety") == parse_interest("(like:arxiv:2401.12345 OR rlhf) safety")
    assert parse_interest("like:doi:10.1101/2024.01.01.123") == Like("doi:10.1101/2024.01.01.123")


@pytest.mark.parametrize(("query", "message"), [
    ("like:", "'like:' needs a paper id right after it (like:2401.12345) at column 1"),
    ("rlhf like:", "'like:' needs a paper id right after it (like:2401.12345) at column 6"),
    ("ti:(like:2401.12345)", "'like:' cannot be used inside 'ti:' (a paper is alike as a whole) at column 5"),
    ("-like:2401.12345", "an interest needs at least one term that is not excluded"),
])
def test_malformed_likes_name_the_problem_and_its_column(query, message):
    with pytest.raises(QueryError) as info:
        parse_interest(query)
    assert str(info.value) == message


def test_a_paper_that_is_not_stored_is_an_error_with_its_column():
    lines = ["rlhf", "agents like:2401.12345 -survey", f"like:{LIKED}", "(broken"]
    [(number, error)] = unknown_liked(lines, {LIKED})
    assert (number, error.position) == (2, 8) and "arxiv:2401.12345" in error.message
    with pytest.raises(InvalidSubscriber) as info:
        validate_subscriber(RawSubscriber("ada@example.org", lines[:3]), stored_papers=lambda ids: ids & {LIKED})
    assert info.value.errors["interests"] == (
        "interest 2 ('agents like:2401.12345 -survey'): no stored paper is arxiv:2401.12345 "
        "(like: names a paper we have; see `paperpost papers`) at column 8")
    assert validate_subscriber(RawSubscriber("ada@example.org", lines[:3])).interests == tuple(lines[:3])  # unchecked


def test_an_import_row_naming_an_unknown_paper_is_rejected_with_its_line(tmp_path):
    path = tmp_path / "people.csv"
    path.write_text(f'email,interests\nada@example.org,like:{LIKED}\nbo@example.org,"rlhf\nlike:2401.99999"\n')
    rows, errors = read_subscribers_file(path, stored_papers=lambda ids: ids & {LIKED})
    assert [r.subscriber.email for r in rows] == ["ada@example.org"]
    assert [(e.line, "interest 2" in e.message and "column 1" in e.message) for e in errors] == [(3, True)]


def stored_app(env, *, matched: bool = False) -> App:
    app = App(load_config())
    with app.db.session() as session:
        papers.upsert_papers(session, PAPERS, None, NOW)
        if matched:  # suggestions come from papers whose keyword matches are known
            papers.mark_matched(session, [p.id for p in PAPERS], NOW)
    return app


def test_like_matches_papers_alike_to_the_liked_one_and_its_evidence_comes_back(env):
    app = stored_app(env)
    with app.db.session() as session:
        ada = subscribers.save_subscriber(session, SubscriberInput("ada@example.org", (f"like:{LIKED}",)), "active",
                                          NOW)[0]
        bo = subscribers.save_subscriber(session, SubscriberInput("bo@example.org", (f"like:{LIKED} -segmentation",)),
                                         "active", NOW)[0]
    assert match_pending(app.db, NOW, recent_days=3, trending_top=10).matches > 0
    with app.db.session() as session:
        mine = matches.unsent_matches(session, ada.id)
        theirs = matches.unsent_matches(session, bo.id)
        shown = papers.papers_by_id(session, [m.paper_id for m in mine + theirs] + [LIKED])
    assert len(mine) >= 5 and {m.paper_id for m in mine} <= set(VISION) - {LIKED}  # alike, never itself
    assert {m.paper_id for m in theirs} == {m.paper_id for m in mine
                                            if "segmentation" not in (shown[m.paper_id].title + " " +
                                                                      shown[m.paper_id].abstract).lower()}
    [again] = with_hits([mine[0]], shown)
    assert why(again, {LIKED: shown[LIKED].title}) == f"like “{shown[LIKED].title}”"
    assert why(replace(again, hits=again.hits)) == f"like {LIKED}"
    app.close()


def test_search_finds_alike_papers_and_names_an_unknown_one(env, run):
    stored_app(env).close()
    code, out, err = run("search", f"like:{LIKED}", "--json", "--limit", "50")
    assert code == 0, err
    found = [json.loads(line) for line in out.splitlines()]
    assert found and {row["id"] for row in found} <= set(VISION) - {LIKED}
    assert all(row["why"].startswith("like “") for row in found)
    code, out, err = run("search", "rlhf like:2401.99999")
    assert (code, out) == (1, "")
    assert "no stored paper is arxiv:2401.99999" in err and "at column 6" in err


def test_recommend_shows_what_the_model_would_add_with_its_reasons(env, run):
    app = stored_app(env, matched=True)
    with app.db.session() as session:
        ada = subscribers.save_subscriber(session, SubscriberInput("ada@example.org", ("dialogue",)), "active", NOW)[0]
        subscribers.save_subscriber(session, SubscriberInput("bo@example.org", ("dialogue",)), "active", NOW)
        for paper_id in VISION[:3]:
            set_vote(session, ada.id, paper_id, 1, NOW)
        titles = {p: t.title for p, t in papers.papers_by_id(session, VISION[:3]).items()}
    app.close()
    code, out, err = run("recommend", "ada@example.org", "--json", "--limit", "5")
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    assert len(rows) == 5 and all(r["paper"] in VISION[3:] and r["model"] == "classifier" for r in rows)
    assert all(r["liked"] in titles and r["why"] == f"like “{titles[r['liked']]}”" for r in rows)
    code, out, _ = run("recommend", "ada@example.org")
    assert code == 0 and out.count("like “") == 3
    code, out, err = run("recommend", "bo@example.org")
    assert code == 0 and "bo@example.org has not liked a paper yet" in out
    code, out, err = run("recommend", "nobody@example.org")
    assert (code, out) == (1, "") and "No subscriber nobody@example.org" in err


def test_the_command_line_refuses_a_like_of_a_paper_we_do_not_have(env, run, tmp_path):
    stored_app(env).close()
    code, out, err = run("subscribers", "add", "ada@example.org", "--interests", "agents like:2401.99999")
    assert code == 1 and "no stored paper is arxiv:2401.99999" in err and "column 8" in err
    people = tmp_path / "people.csv"
    people.write_text(f'email,interests\nada@example.org,like:{LIKED}\nbo@example.org,like:2401.99999\n')
    code, out, err = run("subscribers", "import", str(people))
    assert code == 1 and f"{people}:3: interests: interest 1 ('like:2401.99999'): no stored paper" in out + err
    code, out, err = run("subscribers", "list", "--json")
    assert [json.loads(line)["email"] for line in out.splitlines()] == ["ada@example.org"]


def test_a_digest_says_which_liked_paper_a_like_match_is_alike_to(env):
    app = stored_app(env)
    with app.db.session() as session:
        subscribers.save_subscriber(session, SubscriberInput("ada@example.org", (f"like:{LIKED}",)), "active", NOW)
        liked_title = papers.papers_by_id(session, [LIKED])[LIKED].title
    match_pending(app.db, NOW, recent_days=3, trending_top=10)
    plan_digests(app.db, NOW, ignore_hour=True)
    with app.db.session() as session:
        [item] = outbox.list_outbox(session)
        digest = load_digest(session, item, app.mail_context)
    assert digest.items and all(i.why == f"like “{liked_title}”" for i in digest.items)
    app.close()
