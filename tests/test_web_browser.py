"""The whole subscriber journey in headless Chromium against a real uvicorn server and a real SMTP server.

sign up -> confirmation mail -> confirm -> manage (new interests, preview) -> a digest
arrives -> its unsubscribe link -> no more mail. Screenshots of every page at 390 and
1280 px go to test-artifacts/ (git-ignored).
"""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from pathlib import Path

import pytest
from playwright.sync_api import Page, sync_playwright

from bot.app import App
from bot.config import load_config
from bot.models import Paper
from bot.jobs.cycle import match_step, send_step
from bot.jobs.plan import plan_digests
from bot.store import outbox, papers, subscribers
from liveserver import wait_until
from smtpserver import SmtpSink
from subscribers.web.server import build_server

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
ADDRESS = "grace@example.org"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def paper(n: int, title: str, abstract: str) -> Paper:
    return Paper(id=f"arxiv:2611.{n:05d}", title=title, abstract=abstract, authors=("Grace Hopper", "Alan Turing"),
                 categories=("cs.LG",), published=datetime.now(timezone.utc) - timedelta(hours=3),
                 links={"abs": f"https://arxiv.org/abs/2611.{n:05d}", "pdf": f"https://arxiv.org/pdf/2611.{n:05d}"})


@pytest.fixture
def site(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[App, SmtpSink, str]]:
    sink = SmtpSink().start()
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("PAPERPOST_SMTP_URL", sink.url)
    monkeypatch.setenv("PAPERPOST_BASE_URL", base)
    monkeypatch.setenv("PAPERPOST_SMTP_CONNECTIONS", "1")
    app = App(load_config())
    app.db  # noqa: B018 - migrate before the server starts
    server = build_server(app, "127.0.0.1", port, log_level="warning")
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started
    yield app, sink, base
    server.should_exit = True
    thread.join(timeout=10)
    sink.stop()
    app.close()


def outbox_kinds(app: App) -> list[str]:
    with app.db.session() as session:
        return [item.kind for item in outbox.list_outbox(session)]


def shoot(page: Page, name: str) -> None:
    """Full-page screenshots at phone and desktop widths; the page must not scroll sideways at either."""
    ARTIFACTS.mkdir(exist_ok=True)
    for width in (390, 1280):
        page.set_viewport_size({"width": width, "height": 900})
        assert page.evaluate("document.documentElement.scrollWidth") <= width, f"{name} scrolls sideways at {width}px"
        page.screenshot(path=str(ARTIFACTS / f"{name}-{width}.png"), full_page=True)


def mails_to(sink: SmtpSink, count: int) -> list[EmailMessage]:
    sink.wait_for(count)
    return sink.messages_to(ADDRESS)


def text_of(mail: EmailMessage) -> str:
    return mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]


def test_sign_up_confirm_manage_digest_unsubscribe(site: tuple[App, SmtpSink, str]):
    app, sink, base = site
    with app.db.session() as session:
        papers.upsert_papers(session, [paper(1, "Reward models for honest assistants", "We train reward models."),
                                       paper(2, "Diffusion for proteins", "A diffusion model designs proteins.")],
                             None, app.clock())
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        context = browser.new_context(timezone_id="Asia/Tokyo", viewport={"width": 1280, "height": 900})
        page = context.new_page()
        csp_errors: list[str] = []
        page.on("console", lambda msg: csp_errors.append(msg.text) if "Content Security Policy" in msg.text else None)

        page.goto(base + "/")
        assert page.locator("#tz").input_value() == "Asia/Tokyo"  # the optional script picked the browser's zone
        page.set_viewport_size({"width": 320, "height": 800})
        assert page.evaluate("document.documentElement.scrollWidth") <= 320
        order = []
        for _ in range(9):
            page.keyboard.press("Tab")
            order.append(page.evaluate("document.activeElement.id || document.activeElement.textContent.trim()"))
        assert order == ["Skip to the content", "paperpost", "email", "interests", "frequency", "weekday", "hour", "tz",
                         "Subscribe"], order
        shoot(page, "01-home")

        page.fill("#email", "not an address")
        page.fill("#interests", "(RLHF OR")
        page.click("button[value=subscribe]")
        assert page.locator("#email").get_attribute("aria-invalid") == "true"
        assert "email-error" in (page.locator("#email").get_attribute("aria-describedby") or "")
        assert page.evaluate("document.activeElement.id") == "email"  # the first bad field has the focus
        shoot(page, "02-home-errors")

        page.fill("#email", ADDRESS)
        page.fill("#interests", "reward model")
        page.check("input[value=weekly]")
        page.select_option("#weekday", "2")
        page.select_option("#hour", "8")
        page.click("button[value=preview]")
        assert "would have given you 1" in page.locator("#preview").inner_text()
        assert page.locator("#weekday").input_value() == "2" and page.locator("#tz").input_value() == "Asia/Tokyo"
        shoot(page, "03-home-preview")
        page.click("button[value=subscribe]")
        assert page.locator("h1").inner_text() == "Check your inbox"
        shoot(page, "04-check-inbox")

        wait_until(lambda: outbox_kinds(app) == ["confirm"])  # the sign-up runs just after the answer
        assert send_step(app).sent == 1  # the worker's send step
        [confirmation] = mails_to(sink, 1)
        assert confirmation["Subject"] == "Confirm your paperpost subscription"
        mail_view = context.new_page()  # how the confirmation looks in a mail client
        mail_view.set_content(confirmation.get_body(("html",)).get_content())  # type: ignore[union-attr]
        shoot(mail_view, "04-confirm-mail")
        mail_view.close()
        confirm_url = re.search(rf"{re.escape(base)}/confirm/\S+", text_of(confirmation)).group(0)  # type: ignore[union-attr]
        page.goto(confirm_url)
        shoot(page, "05-confirm")
        with app.db.session() as session:
            assert subscribers.find_subscriber(session, ADDRESS).status == "pending"  # type: ignore[union-attr]
        page.click("text=Yes, send me papers")
        assert page.locator("h1").inner_text() == "You are subscribed"
        shoot(page, "06-confirmed")

        page.click("text=Change interests or schedule")
        assert page.locator("#interests").input_value() == "reward model"
        shoot(page, "07-manage")
        page.fill("#interests", "reward model\ndiffusion -survey")
        page.click("button[value=preview]")
        assert "would have given you 2" in page.locator("#preview").inner_text()
        shoot(page, "08-manage-preview")
        page.click("button[value=save]")
        assert "Your changes are saved." in page.locator(".notice").inner_text()
        with app.db.session() as session:
            person = subscribers.find_subscriber(session, ADDRESS)
        assert person is not None and person.interests == ("reward model", "diffusion -survey")
        assert (person.frequency, person.weekday, person.hour, person.tz) == ("weekly", 2, 8, "Asia/Tokyo")
        page.click("button[value=telegram]")
        assert re.search(r"/start [A-Z0-9]{4}-[A-Z0-9]{4}", page.locator("main").inner_text())
        shoot(page, "09-manage-telegram")

        match_step(app)
        assert plan_digests(app.db, app.clock(), ignore_hour=True).planned == 1
        assert send_step(app).sent == 1
        digest = mails_to(sink, 2)[-1]
        assert digest["Subject"].startswith("2 new papers")
        assert digest["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        body = text_of(digest)
        view_url = re.search(rf"View in browser: ({re.escape(base)}/digest/\S+)", body).group(1)  # type: ignore[union-attr]
        unsubscribe_url = re.search(rf"Unsubscribe: ({re.escape(base)}/unsubscribe/\S+)", body).group(1)  # type: ignore[union-attr]
        assert f"<{unsubscribe_url}>" in digest["List-Unsubscribe"]
        page.goto(view_url)
        assert "Reward models for honest assistants" in page.locator("main").inner_text()
        shoot(page, "10-digest")

        page.goto(unsubscribe_url)
        shoot(page, "11-unsubscribe")
        page.click("button:has-text('Unsubscribe')")
        assert page.locator("h1").inner_text() == "You are unsubscribed"
        shoot(page, "12-unsubscribed")

        page.goto(confirm_url[:-4] + "AAAA")
        shoot(page, "13-bad-link")
        assert csp_errors == []
        browser.close()

    with app.db.session() as session:
        papers.upsert_papers(session, [paper(3, "Reward models, again", "More reward models.")], None, app.clock())
        person = subscribers.find_subscriber(session, ADDRESS)
        assert person is not None and person.status == "unsubscribed"
    match_step(app)
    assert plan_digests(app.db, app.clock() + timedelta(days=8), ignore_hour=True).planned == 0
    send_step(app)
    time.sleep(0.3)
    assert len(sink.messages_to(ADDRESS)) == 2  # nothing after leaving
