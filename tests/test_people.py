"""A subscriber is a person: email, chat or both; links of both token versions; a secret that ends old links."""

from __future__ import annotations

import email
import hashlib
import re
import secrets
from datetime import datetime, timezone
from email import policy

import pytest
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import update
from starlette.testclient import TestClient

from bot.app import App
from bot.config import load_config, require_secret_key
from bot.models import Subscriber, SubscriberInput
from bot.store import open_database, outbox, subscribers
from bot.store.schema import SubscriberRow
from bot.channels.email.confirm_mail import compose_confirm
from subscribers import service
from subscribers.web.routes import create_app

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def client(app: App) -> TestClient:
    return TestClient(create_app(app), base_url="http://localhost", follow_redirects=False)


def add(app: App, email: str | None = "ada@example.org", chat: str | None = None, status: str = "active") -> Subscriber:
    with app.db.session() as session:
        return subscribers.save_subscriber(session, SubscriberInput(email, ("reward model",), telegram_chat_id=chat),
                                           status, NOW)[0]


def as_migrated(app: App, person: Subscriber) -> Subscriber:
    """Give the row the kind of secret migration 0002 wrote into every row of the previous release."""
    with app.db.session() as session:
        session.execute(update(SubscriberRow).where(SubscriberRow.id == person.id)
                        .values(token_secret=secrets.token_hex(16)))
        return subscribers.get_subscriber(session, person.id)  # type: ignore[return-value]


def previous_release_link(app: App, purpose: str, subscriber_id: int, email: str) -> str:
    """A link exactly as the previous release's bot/tokens.py minted it (its code, copied)."""
    tag = hashlib.sha256(email.lower().encode()).hexdigest()[:10]
    token = URLSafeTimedSerializer(require_secret_key(app.config), salt=f"paperpost.{purpose}").dumps([subscriber_id, tag])
    return f"/{purpose}/{token}"


def link(app: App, purpose: str, person: Subscriber) -> str:
    return f"/{purpose}/{app.tokens.make(purpose, person)}"  # type: ignore[arg-type]


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([0-9a-f]+)"', html).group(1)  # type: ignore[union-attr]


def current(app: App, subscriber_id: int) -> Subscriber | None:
    with app.db.session() as session:
        return subscribers.get_subscriber(session, subscriber_id)


def test_links_minted_by_the_previous_release_still_work(client: TestClient, app: App):
    ada = as_migrated(app, add(app, status="pending"))
    confirm = previous_release_link(app, "confirm", ada.id, "ada@example.org")
    page = client.get(confirm)
    assert page.status_code == 200 and "ada@example.org" in page.text
    assert client.post(confirm, data={"csrf": csrf_of(page.text)}).status_code == 200
    assert current(app, ada.id).status == "active"  # type: ignore[union-attr]

    manage = previous_release_link(app, "manage", ada.id, "ADA@example.org")  # the old tag lower-cased the address
    page = client.get(manage)
    assert page.status_code == 200 and "Email is on" in page.text
    saved = client.post(manage, data={"csrf": csrf_of(page.text), "action": "save", "interests": "diffusion",
                                      "frequency": "weekly", "weekday": "2", "hour": "9", "tz": "UTC"})
    assert saved.status_code == 303 and current(app, ada.id).interests == ("diffusion",)  # type: ignore[union-attr]
    assert client.get(previous_release_link(app, "digest", ada.id, "ada@example.org")).status_code == 200

    unsubscribe = previous_release_link(app, "unsubscribe", ada.id, "ada@example.org")
    assert client.get(unsubscribe).status_code == 200
    one_click = TestClient(create_app(app), base_url="http://localhost")  # a mailbox provider: no cookie, no CSRF
    answer = one_click.post(unsubscribe, content=b"List-Unsubscribe=One-Click",
                            headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert answer.status_code == 200 and current(app, ada.id).status == "unsubscribed"  # type: ignore[union-attr]


def test_new_mail_carries_v2_links_that_die_when_the_secret_rotates(client: TestClient, app: App):
    ada = add(app, status="pending")
    with app.db.session() as session:
        outbox.plan(session, ada.id, "email", "confirm", NOW.isoformat(), NOW)
        item = outbox.list_outbox(session)[0]
        mail = compose_confirm(session, item, app.mail_context)
    body = email.message_from_bytes(mail.data, policy=policy.default).get_body(("plain",)).get_content()  # type: ignore[union-attr]
    confirm = re.search(r"http://\S+/confirm/(\S+)", body).group(1)  # type: ignore[union-attr]
    assert app.tokens.read("confirm", confirm).version == 2
    links = {purpose: link(app, purpose, ada) for purpose in ("manage", "unsubscribe", "digest")}
    assert all(client.get(url).status_code == 200 for url in links.values())

    with app.db.session() as session:
        assert subscribers.rotate_token_secret(session, ada.id)
    for url in [*links.values(), f"/confirm/{confirm}"]:
        page = client.get(url)
        assert page.status_code == 404 and "replaced" in page.text, url
    stale = client.post(links["unsubscribe"], data={"List-Unsubscribe": "One-Click"})
    assert stale.status_code == 404 and current(app, ada.id).status == "pending"  # type: ignore[union-attr]
    assert client.get(link(app, "manage", current(app, ada.id))).status_code == 200  # type: ignore[arg-type]


def test_a_recreated_subscriber_reusing_an_id_cannot_use_old_links(client: TestClient, app: App):
    ada = as_migrated(app, add(app))
    old = [previous_release_link(app, "manage", ada.id, "ada@example.org"), link(app, "manage", ada)]
    assert [client.get(url).status_code for url in old] == [200, 200]
    assert service.delete_all(app.db, ada.id)
    again = add(app)
    assert again.id == ada.id and again.email == ada.email  # SQLite hands the freed id out again
    assert [client.get(url).status_code for url in old] == [404, 404]
    assert client.get(link(app, "manage", again)).status_code == 200


@pytest.mark.parametrize("payload", [[10**30, "x"], [2, 10**30, "x"], [2**31, "x"], [2, 2**63, "x"], [2, -1, "x"]])
def test_forged_huge_ids_get_a_plain_400(client: TestClient, app: App, payload: list):
    for purpose in ("manage", "unsubscribe", "confirm", "digest"):
        serializer = URLSafeTimedSerializer(require_secret_key(app.config), salt=f"paperpost.{purpose}")
        url = f"/{purpose}/{serializer.dumps(payload)}"
        assert client.get(url).status_code == 400, url
    assert client.post(url.replace("/digest/", "/unsubscribe/"), data={"List-Unsubscribe": "One-Click"}).status_code == 400


def test_the_manage_page_of_a_chat_only_person_shows_telegram_and_offers_nothing_broken(client: TestClient, app: App):
    chat_only = add(app, email=None, chat="4242")
    manage = link(app, "manage", chat_only)
    page = client.get(manage)
    assert page.status_code == 200
    assert "No email address" in page.text and "Telegram is on" in page.text
    assert "None" not in page.text and 'value="telegram"' not in page.text  # no link code: this chat is the way in
    saved = client.post(manage, data={"csrf": csrf_of(page.text), "action": "save", "interests": "diffusion ; ti:robot",
                                      "frequency": "daily", "weekday": "0", "hour": "8", "tz": "UTC"})
    assert saved.status_code == 303
    after = current(app, chat_only.id)
    assert after.interests == ("diffusion", "ti:robot") and after.email is None  # type: ignore[union-attr]
    assert after.telegram_chat_id == "4242"  # type: ignore[union-attr]
    paused = client.post(manage, data={"csrf": csrf_of(page.text), "action": "pause"})
    assert paused.status_code == 303 and current(app, chat_only.id).status == "paused"  # type: ignore[union-attr]
    view = client.get(link(app, "digest", chat_only))
    assert view.status_code == 200 and "None" not in view.text
    leave = client.get(link(app, "unsubscribe", chat_only))
    assert leave.status_code == 200 and "Telegram chat" in leave.text and "None" not in leave.text
    deleted = client.post(manage, data={"csrf": csrf_of(page.text), "action": "delete", "confirm_delete": "yes"})
    assert deleted.status_code == 200 and current(app, chat_only.id) is None


def test_the_manage_page_shows_each_channel_state_and_reason(client: TestClient, app: App):
    ada = add(app, chat="777")
    with app.db.session() as session:
        for _ in range(3):
            subscribers.record_bounce(session, ada.id, limit=3)
        subscribers.set_channel_state(session, ada.id, "telegram", False, "blocked the bot")
    page = client.get(link(app, "manage", ada)).text
    assert "Email is off: bouncing: 3 permanent delivery failures in a row." in page
    assert "Telegram is off: blocked the bot." in page
    with app.db.session() as session:
        subscribers.set_channel_state(session, ada.id, "email", True)
    page = client.get(link(app, "manage", ada)).text
    assert "Email is on: digests come to this address." in page and "Telegram is off" in page


def test_telegram_stop_deletes_a_chat_only_person_and_unlinks_a_linked_one(client: TestClient, app: App):
    chat_only, linked = add(app, email=None, chat="100"), add(app, chat="200")
    old = link(app, "manage", linked)
    assert service.stop_telegram(app.db, "100") == "deleted" and current(app, chat_only.id) is None
    assert service.stop_telegram(app.db, "200") == "unlinked"
    after = current(app, linked.id)
    assert after is not None and after.telegram_chat_id is None and after.email == "ada@example.org"
    assert after.token_secret != linked.token_secret and client.get(old).status_code == 404
    assert service.stop_telegram(app.db, "200") == "unknown"


def test_people_are_found_by_email_chat_or_id(database_url):
    db = open_database(database_url)
    try:
        with db.session() as session:
            ada, _ = subscribers.save_subscriber(session, SubscriberInput("Ada@Example.org", ("x",)), "active", NOW)
            chat, _ = subscribers.save_subscriber(session, SubscriberInput(None, ("x",), telegram_chat_id="-1001"),
                                                  "active", NOW)
            assert ada.email == "ada@example.org" and chat.email is None and chat.label == "tg:-1001"
            for text, who in [("ADA@example.org ", ada), (f"#{ada.id}", ada), ("tg:-1001", chat), (f"#{chat.id}", chat),
                              ("TG:-1001", chat), ("tg:999", None), ("#999999", None), (f"#{2**31}", None),
                              (f"#{10**30}", None), ("#x", None), ("tg:abc", None), ("nobody", None), ("", None)]:
                found = subscribers.find_by_identifier(session, text)
                assert (found.id if found else None) == (who.id if who else None), text
            assert subscribers.get_subscriber(session, 10**30) is None and subscribers.get_subscriber(session, 2**31) is None
    finally:
        db.dispose()


def test_saving_people_keeps_emails_and_chats_unique(database_url):
    db = open_database(database_url)
    try:
        with db.session() as session:
            chat_only, _ = subscribers.save_subscriber(session, SubscriberInput(None, ("x",), telegram_chat_id="5"),
                                                       "active", NOW)
            # The chat-only person gives an address: the same person now has both.
            both, outcome = subscribers.save_subscriber(session, SubscriberInput("bo@example.org", ("x",),
                                                                                 telegram_chat_id="5"), "active", NOW)
            assert (both.id, both.email, outcome) == (chat_only.id, "bo@example.org", "updated")
            # Saving by the address alone keeps the chat (an import without the chat column never unlinks it).
            again, _ = subscribers.save_subscriber(session, SubscriberInput("bo@example.org", ("y",)), "active", NOW)
            assert again.telegram_chat_id == "5"
            subscribers.save_subscriber(session, SubscriberInput("cy@example.org", ("x",)), "active", NOW)
            with pytest.raises(subscribers.IdentityTaken, match="already belongs to bo@example.org"):
                subscribers.save_subscriber(session, SubscriberInput("cy@example.org", ("x",), telegram_chat_id="5"),
                                            "active", NOW)
            with pytest.raises(subscribers.IdentityTaken, match="already belongs to bo@example.org"):
                subscribers.save_subscriber(session, SubscriberInput("new@example.org", ("x",), telegram_chat_id="5"),
                                            "active", NOW)
            with pytest.raises(subscribers.IdentityTaken, match="email or a Telegram chat"):
                subscribers.save_subscriber(session, SubscriberInput(None, ("x",)), "active", NOW)
            assert [p.label for p in subscribers.list_subscribers(session)] == ["bo@example.org", "cy@example.org"]
    finally:
        db.dispose()


def test_a_sign_up_never_accepts_a_missing_address(client: TestClient, app: App):
    page = client.get("/")
    answer = client.post("/subscribe", data={"csrf": csrf_of(page.text), "email": " ", "interests": "x",
                                             "frequency": "daily", "weekday": "0", "hour": "7", "tz": "UTC"})
    assert answer.status_code == 400 and 'id="email-error"' in answer.text
    with app.db.session() as session:
        assert subscribers.list_subscribers(session) == []


def test_two_apps_agree_on_links(env, monkeypatch):
    """A link minted by one process (the worker's mail) opens in another (the web process)."""
    worker, web = App(load_config(), clock=lambda: NOW), App(load_config(), clock=lambda: NOW)
    try:
        ada = add(worker)
        assert TestClient(create_app(web)).get(f"/manage/{worker.tokens.make('manage', ada)}").status_code == 200
    finally:
        worker.close()
        web.close()


def test_linking_a_chat_that_is_someone_elses_changes_nothing_and_keeps_the_code(app: App):
    ada, other = add(app), add(app, email=None, chat="300")
    code = service.new_telegram_code(app.db, ada.id, NOW)
    with pytest.raises(subscribers.IdentityTaken, match="already belongs"):
        service.link_telegram(app.db, code, "300", NOW)
    assert current(app, ada.id).telegram_chat_id is None  # type: ignore[union-attr]
    assert current(app, other.id).telegram_chat_id == "300"  # type: ignore[union-attr]
    assert service.link_telegram(app.db, code, "301", NOW).telegram_chat_id == "301"  # type: ignore[union-attr]
