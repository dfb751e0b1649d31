"""The subscription pages in process (Starlette TestClient): tokens, GET never acts, CSRF, honeypot, limits, hostile input."""

from __future__ import annotations

import email
import re
from datetime import datetime, timedelta, timezone
from email import policy

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from starlette.testclient import TestClient

from bot.app import App
from bot.config import load_config, require_secret_key
from bot.models import Paper, SubscriberInput
from bot.jobs.cycle import match_step, send_step
from bot.jobs.plan import plan_digests
from bot.store import outbox, papers, subscribers
from bot.channels.email.confirm_mail import compose_confirm
from subscribers.ratelimit import RateLimiter, Rule
from subscribers.web.routes import Limits, create_app

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)
PAPER = Paper(id="arxiv:2611.00001", title="Reward models for honest assistants",
              abstract="We train reward models that prefer honest answers.", authors=("Ada Lovelace",),
              categories=("cs.CL",), published=NOW - timedelta(hours=5),
              links={"abs": "https://arxiv.org/abs/2611.00001", "pdf": "https://arxiv.org/pdf/2611.00001"})


@pytest.fixture
def client(app: App) -> TestClient:
    return TestClient(create_app(app), base_url="http://localhost", follow_redirects=False)


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([0-9a-f]+)"', html).group(1)  # type: ignore[union-attr]


def form(client: TestClient, **fields: str) -> dict[str, str]:
    values = {"email": "ada@example.org", "interests": "reward model", "frequency": "daily", "weekday": "0",
              "hour": "7", "tz": "Europe/Berlin", "action": "subscribe", "csrf": csrf_of(client.get("/").text)}
    values.update(fields)
    return values


def sign_up(client: TestClient, **fields: str):  # type: ignore[no-untyped-def]
    return client.post("/subscribe", data=form(client, **fields))


def outbox_rows(app: App, kind: str = "confirm") -> list[outbox.OutboxItem]:
    with app.db.session() as session:
        return [item for item in outbox.list_outbox(session) if item.kind == kind]


def person(app: App, address: str = "ada@example.org"):  # type: ignore[no-untyped-def]
    with app.db.session() as session:
        return subscribers.find_subscriber(session, address)


def link(app: App, purpose: str, who) -> str:  # type: ignore[no-untyped-def]
    return f"/{purpose}/{app.tokens.make(purpose, who)}"  # type: ignore[arg-type]


def visible_text(html: str) -> str:
    """The page without its per-visitor CSRF token, to compare two answers."""
    return re.sub(r'name="csrf" value="[0-9a-f]+"', "", html)


def add_active(app: App, address: str = "ada@example.org", interests: tuple[str, ...] = ("reward model",)):  # type: ignore[no-untyped-def]
    with app.db.session() as session:
        return subscribers.save_subscriber(session, SubscriberInput(address, interests, tz="UTC"), "active", NOW)[0]


def test_the_form_has_a_label_for_every_field_and_strict_headers(client: TestClient):
    page = client.get("/")
    assert page.status_code == 200
    for field in ("email", "interests", "weekday", "hour", "tz"):
        assert f'<label for="{field}"' in page.text and f'id="{field}"' in page.text
    assert 'aria-describedby="interests-help"' in page.text and "(RLHF OR DPO) safety" in page.text
    assert "<option>Europe/Berlin</option>" in page.text and "<option>America/Sao_Paulo</option>" in page.text
    csp = page.headers["content-security-policy"]
    assert "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert "<script>" not in page.text and "style=" not in page.text  # nothing inline: CSP holds
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert client.get("/static/tz.js").status_code == 200


def test_sign_up_queues_one_confirmation_and_answers_alike_for_new_and_known(client: TestClient, app: App):
    first = sign_up(client)
    assert first.status_code == 200 and "Check your inbox" in first.text
    assert person(app).status == "pending"
    assert len(outbox_rows(app)) == 1
    again = sign_up(client)  # within the cool-down: same page, no second mail
    assert visible_text(again.text) == visible_text(first.text)
    assert len(outbox_rows(app)) == 1
    add_active(app, "known@example.org", ("diffusion",))
    known = sign_up(client, email="known@example.org", interests="something else")
    new = sign_up(client, email="new@example.org")
    assert known.status_code == new.status_code == 200
    assert visible_text(known.text).replace("known@", "new@") == visible_text(new.text)
    assert person(app, "known@example.org").interests == ("diffusion",)  # a stranger cannot change a profile
    assert sorted(r.email for r in outbox_rows(app)) == ["ada@example.org", "new@example.org"]


def test_the_confirmation_mail_links_to_a_page_that_confirms_only_on_post(client: TestClient, app: App):
    sign_up(client, interests="reward model\n\"<b>honest</b>\" نموذج 🤖x")
    report = send_step(app)
    assert report.sent == 1
    [eml] = sorted(app.config.outbox_dir.glob("*-confirm-*.eml"))
    mail = email.message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert mail["Subject"] == "Confirm your paperpost subscription" and mail["To"] == "ada@example.org"
    html, text = mail.get_body(("html",)).get_content(), mail.get_body(("plain",)).get_content()
    for body in (html, text):  # no text a stranger typed travels in our mail; the confirm page shows it
        assert "honest" not in body and "نموذج" not in body and "reward" not in body and "on 2 interests" in body
    url = re.search(r"http://localhost:8000(/confirm/[\w.-]+)", mail.get_body(("plain",)).get_content()).group(1)
    for _ in range(3):  # scanners follow links: GET shows a button and does nothing
        page = client.get(url)
        assert page.status_code == 200 and "Yes, send me papers" in page.text
    assert person(app).status == "pending"
    done = client.post(url, data={"csrf": csrf_of(page.text)})
    assert done.status_code == 200 and "You are subscribed" in done.text
    assert person(app).status == "active"
    with app.db.session() as session:  # a confirmed address gets no late confirmation mail
        assert compose_confirm(session, outbox_rows(app)[0], app.mail_context) is None


def test_tampered_expired_foreign_and_orphaned_tokens_get_a_plain_page(client: TestClient, app: App):
    sign_up(client)
    who = person(app)
    good = link(app, "confirm", who)
    tampered = good[:-3] + ("AAA" if not good.endswith("AAA") else "BBB")
    for url in (tampered, "/confirm/x", "/manage/" + "A" * 5000, link(app, "manage", who).replace("/manage/", "/confirm/")):
        page = client.get(url)
        assert page.status_code == 400, url
        assert "not valid" in page.text and "Traceback" not in page.text

    class Old(TimestampSigner):
        def get_timestamp(self) -> int:
            return int((datetime.now(timezone.utc) - timedelta(days=8)).timestamp())

    old = URLSafeTimedSerializer(require_secret_key(app.config), salt="paperpost.confirm", signer=Old)
    expired = client.get(f"/confirm/{old.dumps([who.id, _tag(who.email)])}")
    assert expired.status_code == 400 and "expired" in expired.text
    assert person(app).status == "pending"
    assert client.post("/manage/" + "A" * 40, data={"csrf": "x"}).status_code == 400

    manage = link(app, "manage", who)
    with app.db.session() as session:  # the address is gone, and its id is reused by someone else
        subscribers.delete_subscriber(session, who.id)
    assert client.get(manage).status_code == 404
    add_active(app, "other@example.org")
    assert client.get(manage).status_code == 404


def _tag(address: str) -> str:
    import hashlib

    return hashlib.sha256(address.lower().encode()).hexdigest()[:10]


def test_forms_without_a_valid_csrf_token_are_refused(client: TestClient, app: App):
    values = form(client)
    bare = TestClient(create_app(app), base_url="http://localhost")  # no cookie
    assert bare.post("/subscribe", data=values).status_code == 403
    assert client.post("/subscribe", data={**values, "csrf": "0" * 64}).status_code == 403
    assert client.post("/subscribe", data={k: v for k, v in values.items() if k != "csrf"}).status_code == 403
    assert person(app) is None
    who = add_active(app)
    refused = client.post(link(app, "manage", who), data={"action": "pause"})
    assert refused.status_code == 403 and person(app).status == "active"
    confirm = client.post(link(app, "confirm", who), data={})
    assert confirm.status_code == 403


def test_the_honeypot_gets_the_same_answer_and_nothing_happens(client: TestClient, app: App):
    page = sign_up(client, website="http://spam.example")
    assert page.status_code == 200 and "Check your inbox" in page.text
    assert person(app) is None and outbox_rows(app) == []


def test_rate_limits_per_mailbox_and_per_ip(app: App):
    limits = Limits(mails_per_mailbox=Rule(2, 900), posts_per_ip=Rule(6, 60))
    client = TestClient(create_app(app, limits=limits, limiter=RateLimiter()), base_url="http://localhost")
    # Attempts on one mailbox never get a 429 (that would lock its owner out); the mails into it are limited.
    tagged = ["ada@example.org", "ada+1@example.org", "a.d.a+2@example.org", "ADA@example.org"]
    assert [sign_up(client, email=address).status_code for address in tagged] == [200] * 4
    assert sorted(r.email for r in outbox_rows(app)) == ["ada+1@example.org", "ada@example.org"]
    statuses = [sign_up(client, email=f"p{n}@example.org").status_code for n in range(3)]
    assert statuses == [200, 200, 429]  # six posts a minute from one address in all
    limited = sign_up(client, email="q@example.org")
    assert limited.status_code == 429 and limited.headers["retry-after"] == "60" and "Too many attempts" in limited.text
    assert len(outbox_rows(app)) == 4


@pytest.mark.parametrize("field", ["email", "interests", "frequency", "weekday", "hour", "tz"])
def test_a_100_kb_field_gets_a_calm_answer(client: TestClient, app: App, field: str):
    page = sign_up(client, **{field: "<script>x</script>" + "x" * 100_000})
    assert page.status_code == 400
    assert "<script>x" not in page.text and "&lt;script&gt;x" in page.text
    assert f'id="{field}-error"' in page.text or field == "frequency" and 'id="frequency-error"' in page.text
    assert person(app) is None


def test_bodies_over_the_limit_are_refused(client: TestClient):
    page = client.post("/subscribe", data=form(client, interests="x" * 300_000))
    assert page.status_code == 413 and "Too much text" in page.text


def test_hostile_text_is_stored_as_typed_and_shown_escaped(client: TestClient, app: App):
    interests = ['"<script>alert(1)</script>"', "نموذج المكافأة", "\"robots 🤖\"", "'><img src=x onerror=alert(1)>x"]
    page = sign_up(client, email="<b>@example.org")
    assert page.status_code == 400 and "<b>@" not in page.text and "&lt;b&gt;@example.org" in page.text
    assert sign_up(client, interests="\n".join(interests)).status_code == 200
    who = person(app)
    assert who.interests == tuple(interests)
    manage = client.get(link(app, "manage", who)).text
    assert "<script>alert" not in manage and "<img src=x" not in manage
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in manage and "نموذج المكافأة" in manage and "robots 🤖" in manage
    confirm = client.get(link(app, "confirm", who)).text
    assert "<script>alert" not in confirm and "&lt;script&gt;" in confirm


def test_one_click_unsubscribe_needs_no_cookie_or_token_and_is_idempotent(app: App):
    who = add_active(app)
    with app.db.session() as session:
        outbox.plan(session, who.id, "email", "digest", "2026-11-28", NOW)
    mailbox_provider = TestClient(create_app(app), base_url="http://localhost")
    url = link(app, "unsubscribe", who)
    assert mailbox_provider.get(url).status_code == 200 and person(app).status == "active"
    for _ in range(3):
        answer = mailbox_provider.post(url, content=b"List-Unsubscribe=One-Click",
                                       headers={"content-type": "application/x-www-form-urlencoded"})
        assert answer.status_code == 200 and "unsubscribed" in answer.text
    assert person(app).status == "unsubscribed"
    assert [item.state for item in outbox_rows(app, "digest")] == ["dropped"]
    assert "You are unsubscribed" in mailbox_provider.get(url).text
    with app.db.session() as session:
        subscribers.delete_subscriber(session, who.id)
    assert mailbox_provider.post(url, content=b"List-Unsubscribe=One-Click",
                                 headers={"content-type": "application/x-www-form-urlencoded"}).status_code == 200


def test_an_unsubscribed_address_signs_up_again_as_pending(client: TestClient, app: App):
    who = add_active(app)
    client.post(link(app, "unsubscribe", who), data={"List-Unsubscribe": "One-Click"})
    assert sign_up(client, interests="diffusion").status_code == 200
    again = person(app)
    assert again.status == "pending" and again.interests == ("diffusion",) and len(outbox_rows(app)) == 1


def test_manage_saves_previews_pauses_links_telegram_and_deletes(client: TestClient, app: App):
    with app.db.session() as session:
        papers.upsert_papers(session, [PAPER], None, NOW - timedelta(hours=1))
    who = add_active(app, interests=("diffusion",))
    url = link(app, "manage", who)
    page = client.get(url)
    token = csrf_of(page.text)
    base = {"csrf": token, "interests": "reward model\nhonest", "frequency": "weekly", "weekday": "2", "hour": "9",
            "tz": "Asia/Tokyo"}
    preview = client.post(url, data={**base, "action": "preview"})
    assert "would have given you <strong>1</strong>" in preview.text and "Reward models for honest" in preview.text
    assert person(app).interests == ("diffusion",)
    bad = client.post(url, data={**base, "interests": "(RLHF OR", "action": "save"})
    assert bad.status_code == 400 and 'aria-describedby="interests-help interests-error"' in bad.text
    assert "Interest 1, column" in bad.text
    for action in ("preview", "save"):  # `like:` must name a paper we have: the column says which word is wrong
        unknown = client.post(url, data={**base, "interests": "rlhf\nagents like:2401.99999", "action": action})
        assert unknown.status_code == (400 if action == "save" else 200)
        assert "Interest 2, column 8: no stored paper is arxiv:2401.99999" in unknown.text
    liked = client.post(url, data={**base, "interests": f"like:{PAPER.id}", "action": "preview"})
    assert liked.status_code == 200 and "no stored paper" not in liked.text
    saved = client.post(url, data={**base, "action": "save"})
    assert saved.status_code == 303 and saved.headers["location"] == f"{url}?done=saved"
    after = person(app)
    assert (after.interests, after.frequency, after.weekday, after.hour, after.tz) == (
        ("reward model", "honest"), "weekly", 2, 9, "Asia/Tokyo")
    assert "Your changes are saved." in client.get(saved.headers["location"]).text
    client.post(url, data={"csrf": token, "action": "pause"})
    assert person(app).status == "paused"
    client.post(url, data={"csrf": token, "action": "resume"})
    assert person(app).status == "active"
    code_page = client.post(url, data={"csrf": token, "action": "telegram"}).text
    code = re.search(r"/start ([A-Z0-9]{4}-[A-Z0-9]{4})", code_page).group(1)  # type: ignore[union-attr]
    from subscribers import service

    assert service.link_telegram(app.db, code, "4242", NOW).telegram_chat_id == "4242"  # type: ignore[union-attr]
    assert service.link_telegram(app.db, code, "4242", NOW) is None  # one time only
    refused = client.post(url, data={"csrf": token, "action": "delete"})
    assert refused.status_code == 400 and person(app) is not None
    gone = client.post(url, data={"csrf": token, "action": "delete", "confirm_delete": "yes"})
    assert gone.status_code == 200 and "Your data is deleted" in gone.text
    assert person(app) is None and client.get(url).status_code == 404


def test_the_sign_up_preview_counts_recent_papers_without_signing_up(client: TestClient, app: App):
    with app.db.session() as session:
        papers.upsert_papers(session, [PAPER], None, NOW - timedelta(hours=1))
    page = sign_up(client, interests="honest", action="preview")
    assert page.status_code == 200 and "would have given you <strong>1</strong>" in page.text
    assert 'href="https://arxiv.org/abs/2611.00001"' in page.text and person(app) is None
    none = sign_up(client, interests="quantum gravity", action="preview")
    assert "none of the 1 papers from the last few days" in none.text
    broken = sign_up(client, interests="-survey", action="preview")
    assert 'id="interests-error"' in broken.text


def test_the_digest_page_shows_the_latest_digest(client: TestClient, app: App):
    with app.db.session() as session:
        papers.upsert_papers(session, [PAPER], None, NOW - timedelta(hours=1))
    who = add_active(app)
    match_step(app)
    upcoming = client.get(link(app, "digest", who))
    assert "Your next digest, so far" in upcoming.text and "<mark>Reward</mark> <mark>models</mark>" in upcoming.text
    plan_digests(app.db, NOW, ignore_hour=True)
    assert send_step(app).sent == 1
    page = client.get(link(app, "digest", who))
    assert page.status_code == 200 and "1 new paper on reward model" in page.text
    assert "<mark>Reward</mark> <mark>models</mark>" in page.text


def test_healthz_tells_the_public_the_status_only(client: TestClient, env: dict[str, str],
                                                  monkeypatch: pytest.MonkeyPatch):
    answer = client.get("/healthz")
    assert answer.status_code == 200 and answer.json() == {"healthy": True, "status": "ok"}
    monkeypatch.setenv("PAPERPOST_HEALTH_DETAILS", "1")
    operator = App(load_config(), clock=lambda: NOW)
    details = TestClient(create_app(operator), base_url="http://localhost").get("/healthz").json()
    assert details["status"] == "ok" and details["database"] == "ok" and "workers" in details
    operator.close()


def test_an_error_never_shows_a_trace(env: dict[str, str]):
    def broken_clock() -> datetime:
        raise RuntimeError("secret internals")

    app = App(load_config(), clock=broken_clock)
    client = TestClient(create_app(app), base_url="http://localhost", raise_server_exceptions=False)
    page = client.post("/subscribe", data=form(client))
    assert page.status_code == 500
    assert "secret internals" not in page.text and "Traceback" not in page.text and "Something went wrong" in page.text
    assert "unsafe-inline" not in page.headers["content-security-policy"]
    assert client.get("/nowhere").status_code == 404
    assert client.delete("/").status_code == 405
    app.close()


def test_a_queued_confirmation_wakes_the_sender_once(app: App):
    woken: list[int] = []
    client = TestClient(create_app(app, wake_sender=lambda: woken.append(1)), base_url="http://localhost")
    sign_up(client)
    sign_up(client)  # within the cool-down: nothing queued, nobody woken
    assert woken == [1] and len(outbox_rows(app)) == 1


def test_a_chat_only_person_sets_mode_and_quiet_hours_and_adds_an_email_that_is_off_until_confirmed(
        client: TestClient, app: App):
    with app.db.session() as session:
        chat = subscribers.save_subscriber(session, SubscriberInput(None, ("reward model",), telegram_chat_id="555"),
                                           "active", NOW)[0]
    url = link(app, "manage", chat)
    page = client.get(url)
    assert page.status_code == 200 and 'name="telegram_mode" value="instant" checked' in page.text
    assert 'id="new_email"' in page.text and "Get a link code" not in page.text
    token = csrf_of(page.text)

    def by_id():  # type: ignore[no-untyped-def]
        with app.db.session() as session:
            return subscribers.get_subscriber(session, chat.id)

    # Telegram settings: closed sets only.
    for bad in ({"telegram_mode": "loud"}, {"telegram_mode": "daily", "quiet_start": "22"},
                {"telegram_mode": "daily", "quiet_start": "22", "quiet_end": "²"},
                {"telegram_mode": "daily", "quiet_start": "7", "quiet_end": "7"}):
        refused = client.post(url, data={"csrf": token, "action": "telegram_settings", **bad})
        assert refused.status_code == 400 and 'class="field-error"' in refused.text, bad
    assert (by_id().telegram_mode, by_id().quiet_start) == ("instant", None)
    saved = client.post(url, data={"csrf": token, "action": "telegram_settings", "telegram_mode": "daily",
                                   "quiet_start": "22", "quiet_end": "7"})
    assert saved.status_code == 303 and saved.headers["location"].endswith("?done=telegram")
    assert (by_id().telegram_mode, by_id().quiet_start, by_id().quiet_end) == ("daily", 22, 7)
    shown = client.get(saved.headers["location"]).text
    assert "Your Telegram settings are saved." in shown and '<option value="22" selected>22:00</option>' in shown

    # An address: refused when it cannot be mailed or is someone else's; else kept off until confirmed.
    add_active(app, "taken@example.org")
    assert client.post(url, data={"csrf": token, "action": "add_email", "new_email": "josé@example.org"}).status_code == 400
    taken = client.post(url, data={"csrf": token, "action": "add_email", "new_email": "Taken@example.org"})
    assert taken.status_code == 400 and "has its own subscription" in taken.text and by_id().email is None
    added = client.post(url, data={"csrf": token, "action": "add_email", "new_email": "Chat.Person@example.org"})
    assert added.status_code == 303 and added.headers["location"].endswith("?done=email")
    waiting = by_id()
    assert (waiting.email, waiting.email_on, waiting.telegram_on) == ("chat.person@example.org", False, True)
    assert "waiting for you to confirm this address" in client.get(url).text
    with app.db.session() as session:
        [mail] = [i for i in outbox.list_outbox(session) if i.kind == "confirm"]
        envelope = compose_confirm(session, mail, app.mail_context)
    assert mail.subscriber_id == chat.id and envelope is not None and envelope.recipient == "chat.person@example.org"
    from subscribers import service

    confirmed = service.confirm(app.db, chat.id, NOW)
    assert confirmed is not None and confirmed.email_on and confirmed.telegram_on and confirmed.status == "active"
    assert "Get a link code" in client.get(url).text  # now a person with an email
