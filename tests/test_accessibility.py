"""What people see passes axe-core (WCAG 2.1 AA) with no violation, in light and dark, at 390 and 1280 px.

Every page a person can reach, served by a real uvicorn server, and the two mails as the
SMTP server received them, loaded into the page as a mail client would show them. One
browser and one server for the module; screenshots go to test-artifacts/a11y-*.png.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from a11y import audit, axe_source
from bot.app import App
from bot.config import load_config
from bot.jobs.cycle import match_step, send_step
from bot.jobs.plan import plan_digests
from bot.models import Subscriber, SubscriberInput
from bot.store import papers, subscribers, votes
from bot.store.schema import MatchRow
from smtpserver import SmtpSink
from subscribers import service
from subscribers.web.server import build_server
from test_web_browser import CHROMIUM_ARGS, _free_port, paper

pytestmark = pytest.mark.browser

INTERESTS = ("reward model", "diffusion -survey")


@dataclass(frozen=True)
class World:
    """The running site and the people and mails the pages are about."""

    app: App
    base: str
    email_person: Subscriber
    email_off_person: Subscriber
    chat_person: Subscriber
    pending_person: Subscriber
    leaving_person: Subscriber
    confirmation_mail: EmailMessage
    digest_mail: EmailMessage
    liking_person: Subscriber  # voted; their digest has "You may also like"
    suggestions_mail: EmailMessage

    def url(self, purpose: str, person: Subscriber) -> str:
        return f"{self.base}/{purpose}/{self.app.tokens.make(purpose, person)}"  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def axe() -> str:
    return axe_source()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """A server with papers, an active email person who got a confirmation and a digest, and the other kinds."""
    data = tmp_path_factory.mktemp("a11y")
    sink = SmtpSink().start()
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    with pytest.MonkeyPatch.context() as mp:
        for name in list(os.environ):
            if name.startswith("PAPERPOST_") or name in ("DATABASE_URL", "PORT"):
                mp.delenv(name)
        for name, value in {"PAPERPOST_DATA": str(data / "data"), "PAPERPOST_CONFIG": str(data / "none.toml"),
                            "PAPERPOST_SMTP_URL": sink.url, "PAPERPOST_BASE_URL": base,
                            "PAPERPOST_SMTP_CONNECTIONS": "1"}.items():
            mp.setenv(name, value)
        app = App(load_config())
        app.db  # noqa: B018 - migrate before the server starts
        server = build_server(app, "127.0.0.1", port, log_level="warning")
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        try:
            deadline = time.monotonic() + 10
            while not server.started and time.monotonic() < deadline:
                time.sleep(0.02)
            assert server.started
            yield _people_and_mails(app, sink, base)
        finally:
            server.should_exit = True
            thread.join(timeout=10)
            sink.stop()
            app.close()


def _people_and_mails(app: App, sink: SmtpSink, base: str) -> World:
    now = app.clock()
    with app.db.session() as session:
        papers.upsert_papers(session, [
            paper(1, "Reward models for honest assistants", "We train reward models that stay calibrated."),
            paper(2, "Diffusion for proteins", "A diffusion model designs proteins with long names "
                  "like Pneumonoultramicroscopicsilicovolcanoconiosis-binding-domains."),
        ], None, now)
    service.sign_up(app.db, SubscriberInput("grace@example.org", INTERESTS), now)  # queues the confirmation
    assert send_step(app).sent == 1
    sink.wait_for(1)
    [confirmation] = sink.messages_to("grace@example.org")
    with app.db.session() as session:
        grace = subscribers.find_subscriber(session, "grace@example.org")
        assert grace is not None
    assert service.confirm(app.db, grace.id, now) is not None
    match_step(app)
    assert plan_digests(app.db, app.clock(), ignore_hour=True).planned == 1
    assert send_step(app).sent == 1
    sink.wait_for(2)
    digest = sink.messages_to("grace@example.org")[-1]
    lin, suggestions = _a_reader_who_voted(app, sink)  # before the others: only they get a digest
    with app.db.session() as session:
        ada, _ = subscribers.save_subscriber(session, SubscriberInput("ada.lovelace.with.a.long.address@"
                                                                      "analytical-engines.example.org", INTERESTS),
                                             "active", now)
        ada = subscribers.set_channel_state(session, ada.id, "email", False,
                                            "bouncing: 3 permanent delivery failures in a row")
        chat, _ = subscribers.save_subscriber(session, SubscriberInput(None, INTERESTS, telegram_chat_id="4242"),
                                              "active", now)
        alan, _ = subscribers.save_subscriber(session, SubscriberInput("alan@example.org", INTERESTS), "pending", now)
        barbara, _ = subscribers.save_subscriber(session, SubscriberInput("barbara@example.org", INTERESTS),
                                                 "active", now)
        grace = subscribers.get_subscriber(session, grace.id)
    assert ada is not None and grace is not None
    return World(app, base, grace, ada, chat, alan, barbara, confirmation, digest, lin, suggestions)


def _a_reader_who_voted(app: App, sink: SmtpSink) -> tuple[Subscriber, EmailMessage]:
    """A reader who liked a paper and got a digest with one suggestion no interest matched (sent through SMTP)."""
    now = app.clock()
    with app.db.session() as session:
        papers.upsert_papers(session, [paper(3, "Folding proteins with language models of evolution",
                                             "Sequence models trained on evolution predict protein structure.")],
                             None, now)
        lin, _ = subscribers.save_subscriber(session, SubscriberInput("lin@example.org", INTERESTS), "active", now)
    match_step(app)
    with app.db.session() as session:
        session.add(MatchRow(subscriber_id=lin.id, paper_id="arxiv:2611.00003", score=0.0, interests=[], created_at=now,
                             learned=0.8, suggested_from="arxiv:2611.00002"))
        votes.set_vote(session, lin.id, "arxiv:2611.00002", votes.MORE, now)
        votes.set_vote(session, lin.id, "arxiv:2611.00001", votes.LESS, now)
    sent = len(sink.messages_to("lin@example.org"))
    # The suggestion is written by hand (three papers teach a model nothing): the learn step would replace it.
    assert plan_digests(app.db, app.clock(), ignore_hour=True, learn=False).planned == 1
    assert send_step(app).sent == 1
    sink.wait_for(3)
    [mail] = sink.messages_to("lin@example.org")[sent:]
    return lin, mail


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def context(browser: Browser) -> Iterator[BrowserContext]:
    """One context for the module (a new one costs more than a check); the CSP stays on (no bypass_csp)."""
    shared = browser.new_context(viewport={"width": 1280, "height": 900}, timezone_id="Europe/London")
    yield shared
    shared.close()


@pytest.fixture
def page(context: BrowserContext) -> Iterator[Page]:
    tab = context.new_page()
    csp_errors: list[str] = []
    tab.on("console", lambda msg: csp_errors.append(msg.text) if "Content Security Policy" in msg.text else None)
    tab.csp_errors = csp_errors  # type: ignore[attr-defined]
    yield tab
    tab.close()


def check(page: Page, name: str, axe: str) -> None:
    problems = audit(page, name, axe)
    problems += [f"{name}: the page's CSP refused something: {text}" for text in page.csp_errors]  # type: ignore[attr-defined]
    assert not problems, f"{len(problems)} accessibility problem(s):\n" + "\n".join(problems)


def html_of(mail: EmailMessage) -> str:
    return mail.get_body(("html",)).get_content()  # type: ignore[union-attr]


def test_home(world: World, page: Page, axe: str):
    page.goto(world.base + "/")
    assert page.locator("h1").count() == 1
    check(page, "home", axe)


def test_home_with_errors(world: World, page: Page, axe: str):
    page.goto(world.base + "/")
    page.fill("#email", "not an address")
    page.fill("#interests", "(RLHF OR")
    page.click("button[value=subscribe]")
    assert page.locator("#email").get_attribute("aria-invalid") == "true"
    check(page, "home-errors", axe)


def test_home_with_too_many_interests(world: World, page: Page, axe: str):
    page.goto(world.base + "/")
    page.fill("#email", "someone@example.org")
    page.locator("#interests").evaluate("(box, text) => { box.value = text; }", "(\n" * 3000)  # a pasted file
    page.click("button[value=subscribe]")
    assert page.locator("#interests-error li").all_inner_texts() == [
        "At most 50 interests, one per line: this has 3000. Keep the ones that matter most."]
    check(page, "home-too-many-interests", axe)


def test_home_with_preview(world: World, page: Page, axe: str):
    page.goto(world.base + "/")
    page.fill("#email", "someone@example.org")
    page.fill("#interests", "reward model\ndiffusion")
    page.click("button[value=preview]")
    assert "would have given you 2" in page.locator("#preview").inner_text()
    check(page, "home-preview", axe)


def test_home_with_look_alike_warnings(world: World, page: Page, axe: str):
    page.goto(world.base + "/")
    page.fill("#email", "someone@example.org")
    page.fill("#interests", "reward \u2212survey\ndiffusion \u041eR graphs")  # a minus sign; a Cyrillic O in OR
    page.click("button[value=preview]")
    warnings = page.locator("#interests-warning li").all_inner_texts()
    assert len(warnings) == 2 and warnings[0].startswith("Line 1, column 8:") and "minus sign" in warnings[0]
    assert warnings[1].startswith("Line 2, column 11:") and "plain word" in warnings[1]
    assert "interests-warning" in page.locator("#interests").get_attribute("aria-describedby")
    check(page, "home-look-alike-warnings", axe)


def test_check_your_inbox(world: World, page: Page, axe: str):
    page.goto(world.base + "/")
    page.fill("#email", "katherine@example.org")
    page.fill("#interests", "reward model")
    page.click("button[value=subscribe]")
    assert page.locator("h1").inner_text() == "Check your inbox"
    check(page, "inbox", axe)


def test_confirm(world: World, page: Page, axe: str):
    page.goto(world.url("confirm", world.pending_person))
    assert page.locator("button", has_text="Yes, send me papers").count() == 1
    check(page, "confirm", axe)
    page.click("text=Yes, send me papers")
    assert page.locator("h1").inner_text() == "You are subscribed"
    check(page, "confirmed", axe)


def test_manage_email_person(world: World, page: Page, axe: str):
    page.goto(world.url("manage", world.email_person))
    assert page.locator("#interests").input_value() == "\n".join(INTERESTS)
    check(page, "manage-email", axe)


def test_manage_email_off(world: World, page: Page, axe: str):
    page.goto(world.url("manage", world.email_off_person))
    assert "Email is off: bouncing: 3 permanent delivery failures" in page.locator(".channels").inner_text()
    check(page, "manage-email-off", axe)


def test_manage_chat_only_person(world: World, page: Page, axe: str):
    page.goto(world.url("manage", world.chat_person))
    assert "everything goes to your Telegram chat" in page.locator(".channels").inner_text()
    check(page, "manage-chat", axe)


def test_manage_with_errors_and_a_telegram_code(world: World, page: Page, axe: str):
    page.goto(world.url("manage", world.email_person))
    page.click("button[value=telegram]")
    assert re.search(r"/start [A-Z0-9]{4}-[A-Z0-9]{4}", page.locator("main").inner_text())
    check(page, "manage-telegram", axe)
    page.click("button[value=delete]")  # the box is not ticked: an error, nothing deleted
    assert page.locator("#confirm_delete").get_attribute("aria-invalid") == "true"
    check(page, "manage-delete-error", axe)


def test_unsubscribe(world: World, page: Page, axe: str):
    page.goto(world.url("unsubscribe", world.email_person))
    assert page.locator("h1").inner_text() == "Unsubscribe"
    check(page, "unsubscribe", axe)


def test_you_left(world: World, page: Page, axe: str):
    page.goto(world.url("unsubscribe", world.leaving_person))
    page.click("button:has-text('Unsubscribe')")
    assert page.locator("h1").inner_text() == "You are unsubscribed"
    check(page, "left", axe)


def test_digest_page(world: World, page: Page, axe: str):
    page.goto(world.url("digest", world.email_person))
    assert "Reward models for honest assistants" in page.locator("main").inner_text()
    check(page, "digest-page", axe)


def test_vote_page_then_the_vote_recorded(world: World, page: Page, axe: str):
    page.goto(world.url("vote", world.liking_person) + "?paper=arxiv%3A2611.00003&choice=more")
    assert page.locator("h1").inner_text() == "More papers like this one?"
    assert page.locator("button.primary").all_inner_texts() == ["More like this"]
    check(page, "vote", axe)
    page.click("button.primary")
    assert page.locator("h1").inner_text() == "Thank you, noted"
    assert page.locator("button").all_inner_texts() == ["Not for me", "Remove my vote"]
    check(page, "vote-done", axe)


def test_digest_page_with_suggestions(world: World, page: Page, axe: str):
    page.goto(world.url("digest", world.liking_person))
    assert page.locator("h2.section-title").inner_text() == "You may also like"
    assert "like Diffusion for proteins" in page.locator(".suggestions .why").inner_text()
    check(page, "digest-page-suggestions", axe)


def test_manage_page_with_votes(world: World, page: Page, axe: str):
    page.goto(world.url("manage", world.liking_person))
    assert "Diffusion for proteins" in page.locator("#votes .voted").first.inner_text()
    check(page, "manage-votes", axe)


def test_digest_mail_with_suggestions(world: World, page: Page, axe: str):
    page.set_content(html_of(world.suggestions_mail))
    assert page.locator("h2.section-title").inner_text() == "You may also like"
    assert page.locator("a.vote").count() == 2 * 3  # two papers matched, one suggested
    check(page, "mail-digest-suggestions", axe)


def test_error_pages(world: World, page: Page, axe: str):
    response = page.goto(world.url("confirm", world.pending_person)[:-4] + "AAAA")
    assert response is not None and response.status == 400
    check(page, "error-400", axe)
    response = page.goto(world.base + "/no/such/page")
    assert response is not None and response.status == 404
    check(page, "error-404", axe)


def test_digest_mail(world: World, page: Page, axe: str):
    assert world.digest_mail["Subject"].startswith("2 new papers")
    page.set_content(html_of(world.digest_mail))
    check(page, "mail-digest", axe)


def test_confirmation_mail(world: World, page: Page, axe: str):
    assert world.confirmation_mail["Subject"] == "Confirm your paperpost subscription"
    page.set_content(html_of(world.confirmation_mail))
    check(page, "mail-confirm", axe)
