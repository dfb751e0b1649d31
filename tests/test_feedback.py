"""Readers' votes (issue 14): the vote links of a digest on a real uvicorn server (a GET shows, only a POST records),
the manage page's list, the Telegram buttons against the fake Bot API, `paperpost feedback`, the export, and votes
going with the reader's data."""

from __future__ import annotations

import html
import json
import re
from urllib.parse import urlsplit

import pytest
from fakebotapi import FakeBotAPI
from liveserver import Visitor, serve
from mailworld import Clock, make_app
from telegramworld import add_chats, server, telegram_app  # noqa: F401 - server: a fixture

from bot.app import App
from bot.channels.email.digest_mail import preview_digest
from bot.jobs.alerts import plan_alerts
from bot.jobs.cycle import send_step
from bot.models import Hit, Match, Paper, Subscriber, SubscriberInput
from bot.store import matches, papers, subscribers, votes
from subscribers import service
from subscribers.telegram.replies import UpdateHandler
from bot.jobs.telegram_polling import UpdatePolling

OLD_STYLE = Paper("arxiv:hep-th/9901001", "Reward models & <strings> in old papers", "A reward model, old style.",
                  ("Richard Feynman",), ("hep-th",), links={"abs": "https://arxiv.org/abs/hep-th/9901001"})
LONG_ID = "url:https://journals.example.org/reward-models?id=12&issue=3%2F4&" + "x" * 40
FEED_PAPER = Paper(LONG_ID, "A reward model from a journal feed", "Reward model, from a feed.", ("Grace Hopper",),
                   (), links={"abs": "https://journals.example.org/reward-models?id=12"})


def add_reader(app: App, address: str = "ada@example.org", chat: str | None = None) -> Subscriber:
    """An active reader with two matched papers: an old-style arXiv id and a long feed id (`&`, `%`, `/`, `?`)."""
    with app.db.session() as session:
        person, _ = subscribers.save_subscriber(session, SubscriberInput(address, ("reward model",),
                                                                         telegram_chat_id=chat), "active", app.clock())
        papers.upsert_papers(session, [OLD_STYLE, FEED_PAPER], None, app.clock())
        matches.save_matches(session, [Match(person.id, p.id, 2.0, ("reward model",),
                                             (Hit("reward model", "title", 0, 12),)) for p in (OLD_STYLE, FEED_PAPER)],
                             app.clock())
    return person


def votes_of(app: App, person: Subscriber) -> dict[str, int]:
    with app.db.session() as session:
        return votes.votes_of(session, person.id)


def mail_vote_links(app: App, person: Subscriber) -> dict[tuple[str, str], str]:
    """{(paper title, choice): site path} of the vote links in the text of `person`'s digest, as it is mailed."""
    with app.db.session() as session:
        digest = preview_digest(session, person, "preview", app.mail_context)
    text, html = app.renderer.render_email("digest", digest=digest)
    found = {}
    for block in text.split("\n\n"):
        title = next((t for t in (OLD_STYLE.title, FEED_PAPER.title) if t in block), None)
        for label, choice in (("More like this", "more"), ("Not for me", "less")):
            for url in re.findall(rf"{label}: (\S+)", block):
                parts = urlsplit(url)
                assert f"{parts.scheme}://{parts.netloc}" == app.config.base_url
                found[(title, choice)] = f"{parts.path}?{parts.query}"
                assert url.replace("&", "&amp;") in html  # the same link in the HTML part
    return found


@pytest.fixture
def web(env):  # type: ignore[no-untyped-def]
    app = make_app(env, Clock(), PAPERPOST_BASE_URL="http://papers.localhost")  # http: the CSRF cookie is not Secure
    yield app
    app.close()


def primary_buttons(html: str) -> list[str]:
    return re.findall(r'<button type="submit" name="choice" value="(\w+)" class="primary"', html)


def test_a_vote_through_the_page_a_changed_vote_and_a_removed_one(web):
    ada = add_reader(web)
    links = mail_vote_links(web, ada)
    assert len(links) == 4  # two papers, two choices each
    with serve(web) as base:
        visitor = Visitor(base)
        for title, paper_id in ((OLD_STYLE.title, OLD_STYLE.id), (FEED_PAPER.title, FEED_PAPER.id)):
            page = visitor.open(links[(title, "more")])
            assert page.status_code == 200, page.text
            assert "More papers like this one?" in page.text and f">{html.escape(title, quote=False)}</a>" in page.text
            assert primary_buttons(page.text) == ["more"] and 'value="less" class="secondary"' in page.text
            assert "Remove my vote" not in page.text and votes_of(web, ada).get(paper_id) is None
            path = links[(title, "more")].split("?")[0]
            done = visitor.post(path, {"paper": paper_id, "choice": "more"})
            assert done.status_code == 200 and "Your vote: <strong>More like this</strong>" in done.text
            assert "Remove my vote" in done.text and primary_buttons(done.text) == []
            assert votes_of(web, ada)[paper_id] == votes.MORE
        # Changed: "Not for me" from the other link, then removed.
        page = visitor.open(links[(OLD_STYLE.title, "less")])
        assert primary_buttons(page.text) == ["less"] and "Remove my vote" in page.text
        assert "Your vote: <strong>More like this</strong>" in page.text  # what is recorded, until the press
        path = links[(OLD_STYLE.title, "less")].split("?")[0]
        assert "Not for me</strong>" in visitor.post(path, {"paper": OLD_STYLE.id, "choice": "less"}).text
        assert votes_of(web, ada) == {OLD_STYLE.id: votes.LESS, FEED_PAPER.id: votes.MORE}
        removed = visitor.post(path, {"paper": OLD_STYLE.id, "choice": "clear"})
        assert removed.status_code == 200 and "Your vote is removed" in removed.text
        assert votes_of(web, ada) == {FEED_PAPER.id: votes.MORE}
        visitor.close()


def test_a_mail_scanner_that_opens_every_link_records_nothing(web):
    ada = add_reader(web)
    links = mail_vote_links(web, ada)
    with serve(web) as base:
        scanner = Visitor(base, **{"user-agent": "LinkScanner/1.0"})
        for path in links.values():
            assert scanner.http.get(path).status_code == 200
            assert scanner.http.head(path).status_code == 200
        # A scanner that submits forms without the page's cookie and token: refused, nothing recorded.
        path = next(iter(links.values())).split("?")[0]
        refused = scanner.http.post(path, data={"paper": OLD_STYLE.id, "choice": "more"})
        assert refused.status_code == 403
        scanner.close()
    assert votes_of(web, ada) == {}


def test_tampered_foreign_and_unknown_links_get_plain_400_and_404_pages(web):
    ada = add_reader(web)
    links = mail_vote_links(web, ada)
    good = links[(OLD_STYLE.title, "more")]
    path, query = good.split("?")
    with serve(web) as base:
        visitor = Visitor(base)
        tampered = visitor.open(path[:-3] + "AAA?" + query)
        assert tampered.status_code == 400 and "opened whole" in tampered.text
        manage_token = web.tokens.make("manage", ada)  # another purpose's token: not a vote link
        assert visitor.open(f"/vote/{manage_token}?{query}").status_code == 400
        unknown = visitor.open(f"{path}?paper=arxiv%3A2601.99999&choice=more")
        assert unknown.status_code == 404 and "not in our list" in unknown.text
        assert visitor.open(f"{path}?paper={'x' * 5000}&choice=more").status_code == 404
        assert visitor.open(path).status_code == 400  # no choice
        assert visitor.open(f"{path}?paper=arxiv%3Ahep-th%2F9901001&choice=maybe").status_code == 400
        visitor.open(good)
        assert visitor.post(path, {"paper": "arxiv:2601.99999", "choice": "more"}).status_code == 404
        assert visitor.post(path, {"paper": OLD_STYLE.id, "choice": "maybe"}).status_code == 400
        assert visitor.post(path[:-3] + "AAA", {"paper": OLD_STYLE.id, "choice": "more"}).status_code == 400
        service.delete_all(web.db, ada.id)
        assert visitor.open(good).status_code == 404  # the person is gone
        visitor.close()


def test_the_digest_page_carries_the_vote_links_too(web):
    ada = add_reader(web)
    with serve(web) as base:
        visitor = Visitor(base)
        page = visitor.open(f"/digest/{web.tokens.make('digest', ada)}")
        found = re.findall(r'<a class="vote" href="([^"]+)">(More like this|Not for me)</a>', page.text)
        assert len(found) == 4
        more = next(href for href, label in found if label == "More like this").replace("&amp;", "&")
        assert more.startswith("/vote/")
        assert primary_buttons(visitor.open(more).text) == ["more"]
        visitor.close()


def test_the_manage_page_lists_voted_papers_with_a_remove_button_each(web):
    ada = add_reader(web)
    with web.db.session() as session:
        votes.set_vote(session, ada.id, OLD_STYLE.id, votes.MORE, web.clock())
        votes.set_vote(session, ada.id, FEED_PAPER.id, votes.LESS, web.clock())
    manage = f"/manage/{web.tokens.make('manage', ada)}"
    with serve(web) as base:
        visitor = Visitor(base)
        page = visitor.open(manage).text
        liked, unwanted = page.split("<h2 id=\"votes-title\">Papers you liked</h2>")[1].split("<h3>Not for me</h3>")
        assert "Reward models &amp; &lt;strings&gt; in old papers" in liked and FEED_PAPER.title not in liked
        assert FEED_PAPER.title in unwanted.split("</section>")[0]
        assert page.count('name="action" value="unvote"') == 2
        back = visitor.post(manage, {"action": "unvote", "paper": FEED_PAPER.id})
        assert back.status_code == 303 and back.headers["location"].endswith("?done=unvoted#votes")
        after = visitor.open(back.headers["location"].split("#")[0]).text
        assert "Your vote is removed." in after and "<h3>Not for me</h3>" not in after
        assert votes_of(web, ada) == {OLD_STYLE.id: votes.MORE}
        assert visitor.post(manage, {"action": "unvote", "paper": OLD_STYLE.id}).status_code == 303
        assert "No liked papers yet." in visitor.open(manage).text and votes_of(web, ada) == {}
        visitor.close()


# --- Telegram ---------------------------------------------------------------------------------------------------

CHAT = 6001


@pytest.fixture
def tg(env, server):  # type: ignore[no-untyped-def]
    app = telegram_app(env, server, Clock(), PAPERPOST_TELEGRAM_TIMEOUT="3")
    yield app
    app.close()


def press(server: FakeBotAPI, polling: UpdatePolling, chat: int, message_id: int, data: str) -> str:
    """The user in `chat` presses a button with `data`; the answer to the press."""
    before = len(server.calls_to("answerCallbackQuery"))
    server.user_presses(chat, message_id, data)
    polling.poll_once()
    answers = server.calls_to("answerCallbackQuery")[before:]
    assert len(answers) == 1
    return answers[0].params.get("text", "")


def test_telegram_alert_buttons_record_a_vote_at_once_for_the_chat_that_pressed(tg, server):
    [chat_person] = add_chats(tg, 1, first=CHAT)
    with tg.db.session() as session:
        papers.upsert_papers(session, [OLD_STYLE, FEED_PAPER], None, tg.clock())
        matches.save_matches(session, [Match(chat_person.id, p.id, 2.0, ("reward model",),
                                             (Hit("reward model", "title", 0, 12),)) for p in (OLD_STYLE, FEED_PAPER)],
                             tg.clock())
    [other] = add_chats(tg, 1, first=CHAT + 1)
    assert plan_alerts(tg.db, tg.clock()).alerts == 2  # one alert per paper
    send_step(tg)
    alerts = server.sent(CHAT)
    buttons = {}  # paper id -> {text: (message id, callback data)}
    for alert in alerts:
        found = OLD_STYLE if "hep-th" in alert.params["text"] else FEED_PAPER
        rows = alert.params["reply_markup"]["inline_keyboard"]
        buttons[found.id] = {b["text"]: (alert.params["_message_id"], b["callback_data"])
                             for row in rows for b in row if "callback_data" in b}
    assert len(buttons) == 2
    assert all(set(shown) == {"👍 More like this", "👎 Not for me"} for shown in buttons.values())
    assert all(len(data.encode()) <= 64 for shown in buttons.values() for _, data in shown.values())
    polling = UpdatePolling(tg.db, tg.telegram, UpdateHandler(tg), poll_seconds=0)
    old_message, more_old = buttons[OLD_STYLE.id]["👍 More like this"]
    feed_message, less_feed = buttons[FEED_PAPER.id]["👎 Not for me"]
    assert "#" in less_feed  # the long id travels as a hash
    assert press(server, polling, CHAT, old_message, more_old).startswith("👍 Noted")
    assert press(server, polling, CHAT, feed_message, less_feed).startswith("👎 Noted")
    assert votes_of(tg, chat_person) == {OLD_STYLE.id: votes.MORE, FEED_PAPER.id: votes.LESS}
    # Another chat presses the same buttons (under a message of its own): never a vote for this chat's reader.
    assert "nothing to vote on" in press(server, polling, CHAT + 1, 1, less_feed)  # not among its papers
    press(server, polling, CHAT + 1, 1, more_old.replace("v:+:", "v:-:"))
    assert votes_of(tg, chat_person) == {OLD_STYLE.id: votes.MORE, FEED_PAPER.id: votes.LESS}
    assert votes_of(tg, other) == {OLD_STYLE.id: votes.LESS}  # its own vote, on its own subscription
    assert "no subscription" in press(server, polling, CHAT + 2, 1, more_old)
    assert "nothing to vote on" in press(server, polling, CHAT, 1, "v:+:arxiv:2601.99999")


# --- CLI and export ---------------------------------------------------------------------------------------------

def test_feedback_command_records_changes_and_clears_a_vote(app, run):
    ada = add_reader(app)
    app.close()
    code, out, err = run("feedback", "ada@example.org", "hep-th/9901001", "--more")
    assert code == 0 and out.startswith("recorded more like this: ada@example.org on arxiv:hep-th/9901001")
    code, out, _ = run("feedback", f"#{ada.id}", "arxiv:hep-th/9901001v2", "--less")
    assert code == 0 and out.startswith("recorded not for me:")
    code, out, _ = run("feedback", "ada@example.org", LONG_ID, "--more")
    assert code == 0 and LONG_ID in out
    code, out, _ = run("feedback", "ada@example.org", OLD_STYLE.id, "--clear")
    assert code == 0 and out.startswith("removed the vote (not for me)")
    assert votes_of(app, ada) == {LONG_ID: votes.MORE}


def test_feedback_command_refuses_unknown_papers_and_subscribers(app, run):
    add_reader(app)
    app.close()
    code, out, err = run("feedback", "ada@example.org", "2601.99999", "--more")
    assert code == 1 and "No paper 2601.99999 is stored" in err and out == ""
    code, _, err = run("feedback", "nobody@example.org", OLD_STYLE.id, "--more")
    assert code == 1 and "No subscriber nobody@example.org" in err
    code, _, err = run("feedback", "ada@example.org", OLD_STYLE.id)
    assert code == 1 and "--more" in err


def test_export_includes_votes_and_import_reads_the_file_back(app, run, tmp_path):
    ada = add_reader(app)
    with app.db.session() as session:
        votes.set_vote(session, ada.id, OLD_STYLE.id, votes.MORE, app.clock())
        votes.set_vote(session, ada.id, LONG_ID, votes.LESS, app.clock())
    app.close()
    code, out, _ = run("subscribers", "export", "--format", "json")
    assert code == 0 and json.loads(out)["votes"] == {OLD_STYLE.id: "more", LONG_ID: "less"}
    code, exported, _ = run("subscribers", "export")
    assert exported.splitlines()[0].endswith(",votes")
    assert f"more {OLD_STYLE.id}" in exported and f"less {LONG_ID}" in exported
    (tmp_path / "back.csv").write_text(exported, encoding="utf-8")
    code, out, err = run("subscribers", "import", str(tmp_path / "back.csv"))
    assert code == 0 and "1 unchanged, 0 rejected" in out, err
    assert votes_of(app, ada) == {OLD_STYLE.id: votes.MORE, LONG_ID: votes.LESS}  # import leaves votes alone


# --- Votes go with the reader's data ----------------------------------------------------------------------------

def test_votes_go_when_the_reader_deletes_their_data(db):
    from datetime import UTC, datetime

    now = datetime(2026, 11, 28, 12, tzinfo=UTC)
    with db.session() as session:
        papers.upsert_papers(session, [OLD_STYLE, FEED_PAPER], None, now)
        web_person, _ = subscribers.save_subscriber(session, SubscriberInput("ada@example.org", ("x",)), "active", now)
        chat_only, _ = subscribers.save_subscriber(session, SubscriberInput(None, ("x",), telegram_chat_id="77"),
                                                   "active", now)
        stays, _ = subscribers.save_subscriber(session, SubscriberInput("grace@example.org", ("x",)), "active", now)
        for person in (web_person, chat_only, stays):
            votes.set_vote(session, person.id, OLD_STYLE.id, votes.MORE, now)
            votes.set_vote(session, person.id, FEED_PAPER.id, votes.LESS, now)
    assert service.delete_all(db, web_person.id)  # the manage page's "delete all my data"
    assert service.stop_telegram(db, "77") == "deleted"  # /stop of a chat-only reader
    with db.session() as session:
        assert votes.votes_by_subscriber(session) == {stays.id: {OLD_STYLE.id: votes.MORE, FEED_PAPER.id: votes.LESS}}
        votes.clear_votes(session, stays.id)  # where the row stays (an unlinked chat): the service's call
    with db.session() as session:
        assert votes.votes_by_subscriber(session) == {}
