"""Hostile input against the real web server (uvicorn on loopback): nothing anyone sends stalls, crashes,
misleads or leaks. Each test closes one class of defect (issue 13), by its class:

- a body the parser would chew on for seconds   -> counted before parsing, a short page, others served meanwhile
- a field value outside its closed set           -> a 400 naming the field, never a 500 (hypothesis + hand-picked)
- a forged token, however large its id           -> a plain 400/404
- an address that can never be mailed            -> refused on the form with a sentence, nothing stored
- an answer that tells known addresses from new  -> the same work and the same page before the sign-up runs
"""

from __future__ import annotations

import itertools
import re
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import event

from bot.app import App
from bot.config import load_config, require_secret_key
from bot.jobs.cycle import send_step
from bot.models import SubscriberInput
from bot.store import outbox, subscribers
from liveserver import SIGN_UP, Visitor, serve, wait_until
from subscribers.ratelimit import Rule
from subscribers.validation import unprintable
from subscribers.web.routes import Limits

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)
OPEN = Limits(posts_per_ip=Rule(100_000, 60), signups_per_ip=Rule(100_000, 3600), mails_per_mailbox=Rule(100_000, 900))
FIELDS = ("email", "interests", "frequency", "weekday", "hour", "tz")


@pytest.fixture
def live(env: dict[str, str]) -> Iterator[tuple[App, str]]:
    """The pages on uvicorn, with limits out of the way (the limits have their own tests)."""
    app = App(load_config(), clock=lambda: NOW)
    app.db  # noqa: B018 - migrate before the server starts
    with serve(app, limits=OPEN) as base:
        yield app, base
    app.close()


@pytest.fixture
def visitor(live: tuple[App, str]) -> Iterator[Visitor]:
    one = Visitor(live[1])
    yield one
    one.close()


def person(app: App, address: str):  # type: ignore[no-untyped-def]
    with app.db.session() as session:
        return subscribers.find_subscriber(session, address)


def confirm_rows(app: App) -> list[outbox.OutboxItem]:
    with app.db.session() as session:
        return [item for item in outbox.list_outbox(session) if item.kind == "confirm"]


def add_active(app: App, address: str, interests: tuple[str, ...] = ("diffusion",)):  # type: ignore[no-untyped-def]
    with app.db.session() as session:
        return subscribers.save_subscriber(session, SubscriberInput(address, interests, tz="UTC"), "active", NOW)[0]


def assert_calm(page, status: int | tuple[int, ...]) -> None:  # type: ignore[no-untyped-def]
    """The answer a hostile request gets: the expected status, our page, no trace, nothing cached."""
    assert page.status_code in ((status,) if isinstance(status, int) else status), page.text[:300]
    assert "Traceback" not in page.text and "Error:" not in page.text
    assert page.headers["cache-control"] == "no-store"


def error_items(html: str, field: str) -> list[str]:
    found = re.search(rf'<ul class="field-error" id="{field}-error">(.*?)</ul>', html, re.S)
    return re.findall(r"<li>(.*?)</li>", found.group(1), re.S) if found else []


# 1. One request must not stall the server.

@pytest.mark.parametrize("multipart,lines", [(True, 120_000), (False, 40_000)], ids=["multipart", "urlencoded"])
def test_a_huge_interest_list_gets_one_sentence_while_another_visitor_is_served(live, multipart: bool, lines: int):
    app, base = live
    hostile, other = Visitor(base), Visitor(base)
    hostile.open()
    body = "(\n" * lines  # 240 KB sent, under the body cap: that many broken interests
    with ThreadPoolExecutor(max_workers=2) as pool:
        attack = pool.submit(hostile.post, "/subscribe", {**SIGN_UP, "interests": body}, multipart=multipart)
        homes = [other.open("/") for _ in range(3)]  # while the attack is being answered
        page = attack.result()
    assert all(home.status_code == 200 and 'name="interests"' in home.text for home in homes)
    assert_calm(page, 400)
    assert error_items(page.text, "interests") == [
        f"At most 50 interests, one per line: this has {lines}. Keep the ones that matter most."]
    assert len(page.content) < 60_000  # the form shows back what a real profile can hold, not 240 KB
    assert person(app, "ada@example.org") is None
    hostile.close(), other.close()


def test_many_broken_interests_name_the_first_few_only(visitor: Visitor):
    page = visitor.post("/subscribe", {**SIGN_UP, "interests": "(x\n" * 50})
    assert_calm(page, 400)
    items = error_items(page.text, "interests")
    assert len(items) == 6 and items[0] == "Interest 1, column 1: unclosed &#39;(&#39;." and items[-1] == \
        "And 45 more: fix these first."
    preview = visitor.post("/subscribe", {**SIGN_UP, "interests": "(x\n" * 5000, "action": "preview"})
    assert_calm(preview, 200)
    assert len(error_items(preview.text, "interests")) == 1


# 2. Every field is checked against a closed set before use.

HAND_PICKED = {
    "tz": ["America", "America/", "x" * 300, "../../../etc/passwd", "Europe/Berlin\x00", "  ", "Etc", "utc"],
    "weekday": ["²", "٣", "9" * 5000, "-1", "7", "1e3", "0x1", "mondayy", "\x00"],
    "hour": ["²", "٣", "9" * 5000, "24", "-0", "7.5", "1_0", "0x7", "\u200b7"],
    "frequency": ["hourly", "DAILY\x00", "d" * 5000],
    "email": ["🤖@example.org", "josé@exämple.org", "ada@example.org\r\nBcc: x@y.org",
              "a@b", "<b>@example.org", "x" * 10_000 + "@example.org"],
    "interests": ["(" * 300, "\x00\x01", "a\x07b", '"' * 301, "-survey", "OR", "is:everything"],
}


@pytest.mark.parametrize("field,value", [(f, v) for f, values in HAND_PICKED.items() for v in values],
                         ids=lambda v: repr(v)[:24])
def test_a_value_outside_its_closed_set_gets_a_400_naming_the_field(live, visitor: Visitor, field: str,
                                                                    value: str):
    app, _ = live
    page = visitor.post("/subscribe", {**SIGN_UP, field: value})
    assert_calm(page, 400)
    assert f'id="{field}-error"' in page.text
    assert person(app, "ada@example.org") is None and confirm_rows(app) == []


def test_the_manage_form_checks_the_same_closed_sets(live, visitor: Visitor):
    app, _ = live
    who = add_active(app, "grace@example.org")
    url = f"/manage/{app.tokens.make('manage', who)}"
    visitor.open(url)
    base = {"interests": "diffusion", "frequency": "weekly", "weekday": "2", "hour": "9", "tz": "Asia/Tokyo",
            "action": "save"}
    for field in ("tz", "weekday", "hour"):
        for value in HAND_PICKED[field]:
            page = visitor.post(url, {**base, field: value})
            assert_calm(page, 400)
            assert f'id="{field}-error"' in page.text, (field, value)
    assert visitor.post(url, {**base, "action": "nothing"}).status_code == 400
    after = person(app, "grace@example.org")
    assert (after.tz, after.weekday, after.hour, after.frequency) == ("UTC", 0, 7, "daily")  # nothing saved


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(field=st.sampled_from(["telegram_mode", "quiet_start", "quiet_end", "new_email"]), value=st.text(max_size=300))
def test_any_text_in_the_telegram_and_email_fields_of_a_chat_only_page_gets_a_page_never_a_500(
        live, visitor: Visitor, field: str, value: str):
    app, _ = live
    with app.db.session() as session:
        chat = subscribers.find_by_identifier(session, "tg:990001") or subscribers.save_subscriber(
            session, SubscriberInput(None, ("diffusion",), telegram_chat_id="990001"), "active", app.clock())[0]
    url = f"/manage/{app.tokens.make('manage', chat)}"
    visitor.open(url)
    base = {"telegram_mode": "daily", "quiet_start": "22", "quiet_end": "7", "new_email": "chat@example.org"}
    action = "add_email" if field == "new_email" else "telegram_settings"
    page = visitor.post(url, {**base, field: value, "action": action})
    assert page.status_code in (303, 400), page.text[:300]  # saved (a value of the closed set), or refused
    if page.status_code == 400:
        assert_calm(page, 400)
    with app.db.session() as session:
        after = subscribers.get_subscriber(session, chat.id)
    assert after.telegram_mode in ("instant", "daily")  # only ever a value of the closed set is stored
    assert after.quiet_start in (None, *range(24)) and after.quiet_end in (None, *range(24))
    assert after.email is None or (after.email.isascii() and not after.email_on)  # off until confirmed


FUZZ_ADDRESSES = itertools.count()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(field=st.sampled_from(FIELDS), value=st.text(max_size=400), preview=st.booleans())
def test_any_text_in_any_field_gets_a_page_never_a_500(live, visitor: Visitor, field: str, value: str,
                                                        preview: bool):
    app, _ = live
    address = f"fuzz{next(FUZZ_ADDRESSES)}@example.org"
    fields = {**SIGN_UP, "email": address, field: value, "action": "preview" if preview else "subscribe"}
    page = visitor.post("/subscribe", fields, multipart=len(value) % 2 == 0)
    assert_calm(page, (200, 400))
    assert page.text.count("<script") == page.text.count('<script src="/static/tz.js" defer></script>')
    if page.status_code == 200 and not preview and field != "email":
        wait_until(lambda: person(app, address) is not None)  # the sign-up runs after the answer
        stored = person(app, address)
        assert not any(map(unprintable, stored.interests)) and stored.email.isascii()  # it can go into a mail


# Forged tokens, however large their id, get a plain 400/404.

@pytest.mark.parametrize("payload", [[2, 10**30, "x"], [10**30, "x"], [2, 2**63, "x"], [2, -1, "x"], [2, True, "x"],
                                     [2, 1.0e308, "x"], [2, "1", "x"], [2, 1, 5], [2, 1, "x" * 5000], [3, 1, "x"],
                                     "x", {"id": 1}, [], None], ids=lambda v: repr(v)[:20])
def test_a_well_signed_forgery_gets_a_plain_page(live, visitor: Visitor, payload: object):
    app, _ = live
    for purpose in ("confirm", "manage", "unsubscribe", "digest"):
        signer = URLSafeTimedSerializer(require_secret_key(app.config), salt=f"paperpost.{purpose}")
        url = f"/{purpose}/{signer.dumps(payload)}"
        assert_calm(visitor.open(url), (400, 404))
        if purpose != "digest":  # unsubscribing someone who is gone is done already: 200, by design
            expected = (200, 400, 404) if purpose == "unsubscribe" else (400, 404)
            assert_calm(visitor.post(url, {"action": "pause"}), expected)


# 4. Addresses that can never be mailed are refused; IDN domains are made sendable.

@pytest.mark.parametrize("address", ["🤖@example.org", "josé@exämple.org", "ünïcode@example.org"])
def test_an_address_that_cannot_be_mailed_is_refused_with_a_sentence(live, visitor: Visitor, address: str):
    app, _ = live
    page = visitor.post("/subscribe", {**SIGN_UP, "email": address})
    assert_calm(page, 400)
    assert "we can only send to addresses with plain letters, digits and . _ + - before the @" in page.text.lower()
    assert confirm_rows(app) == []


def test_undecodable_bytes_in_the_address_are_refused(live, visitor: Visitor):
    app, _ = live
    visitor.open()
    body = f"csrf={visitor.token}&email=%FF%FE@example.org&interests=reward&tz=UTC&action=subscribe".encode()
    page = visitor.http.post("/subscribe", content=body,
                             headers={"content-type": "application/x-www-form-urlencoded"})
    assert_calm(page, 400)
    assert 'id="email-error"' in page.text and confirm_rows(app) == []


def test_an_idn_domain_is_stored_as_idna_and_its_confirmation_is_sent(live, visitor: Visitor):
    app, _ = live
    page = visitor.post("/subscribe", {**SIGN_UP, "email": "Ada@Exämple.org"})
    assert_calm(page, 200)
    wait_until(lambda: person(app, "ada@xn--exmple-cua.org") is not None)
    assert send_step(app).sent == 1
    [eml] = app.config.outbox_dir.glob("*-confirm-*.eml")
    assert b"To: ada@xn--exmple-cua.org" in eml.read_bytes()


# 5. Known and new addresses: the same work before the answer, the same answer.

def test_the_answer_comes_before_the_address_is_looked_up_for_known_and_new(live):
    app, base = live
    add_active(app, "known@example.org")
    held, release = threading.Event(), threading.Event()
    before_answer: list[str] = []

    def watch(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if "subscribers" in statement and not release.is_set():
            held.set()
            release.wait(timeout=30)  # the sign-up waits here until the visitor has their answer
        elif not release.is_set():
            before_answer.append(statement)

    Visitor(base).post("/subscribe", {**SIGN_UP, "action": "preview"})  # the limiter's first hit also prunes
    event.listen(app.db.engine, "before_cursor_execute", watch)
    answers, traces = {}, {}
    try:
        for address in ("known@example.org", "new@example.org"):
            one = Visitor(base)
            one.open()
            before_answer.clear()
            held.clear(), release.clear()
            answers[address] = one.post("/subscribe", {**SIGN_UP, "email": address, "interests": "other things"})
            traces[address] = list(before_answer)
            assert held.wait(timeout=30)  # the sign-up itself started only after the answer arrived
            release.set()
            one.close()
    finally:
        release.set()
    wait_until(lambda: len(confirm_rows(app)) == 1)
    event.remove(app.db.engine, "before_cursor_execute", watch)
    known, new = answers["known@example.org"], answers["new@example.org"]
    assert known.status_code == new.status_code == 200
    assert scrub(known.text).replace("known@", "new@") == scrub(new.text)
    assert traces["known@example.org"] == traces["new@example.org"] and traces["new@example.org"]
    assert person(app, "known@example.org").interests == ("diffusion",)
    assert [row.email for row in confirm_rows(app)] == ["new@example.org"]


def scrub(html: str) -> str:
    return re.sub(r'name="csrf" value="[0-9a-f]+"', "", html)


# The same checks on the command line (subscribers/validation.py serves the form, `subscribers add` and imports).

@pytest.mark.parametrize("args,words", [
    (("josé@example.org",), "before the @"),
    (("🤖@example.org",), "before the @"),
    (("ada@example.org", "--tz", "America"), "unknown time zone"),
    (("ada@example.org", "--tz", "x" * 300), "unknown time zone"),
    (("ada@example.org", "--hour", "²"), "hour"),
    (("ada@example.org", "--telegram", "²"), "Telegram chat id"),
], ids=lambda v: repr(v)[:24])
def test_the_command_line_refuses_the_same_values(env, capsys, args: tuple[str, ...], words: str):
    from test_cli import in_process

    result = in_process(capsys)(env, "subscribers", "add", *args, "--interests", "reward model")
    assert result.returncode == 1 and words in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr) < 400


def test_an_argument_with_undecodable_bytes_is_refused(env, capsys):
    from test_cli import in_process

    result = in_process(capsys)(env, "subscribers", "add", "ada@example.org", "--interests", "reward \udcff model")
    assert result.returncode == 1 and "not valid text" in result.stderr


# Bodies the form parser refuses get our page too, never a library's plain text.

@pytest.mark.parametrize("body,content_type", [
    (b"--xx\r\nbroken", "multipart/form-data; boundary=xx"),
    (b"a", "multipart/form-data"),
    (b"&".join([b"a=1"] * 5000), "application/x-www-form-urlencoded"),
    (b"\xff\xfe=\xff&%%%=%", "application/x-www-form-urlencoded"),
    (b"{}", "application/json"),
], ids=["broken-multipart", "no-boundary", "5000-fields", "bad-bytes", "json"])
def test_a_body_the_parser_refuses_gets_our_page(visitor: Visitor, body: bytes, content_type: str):
    visitor.open()
    for path in ("/subscribe", "/unsubscribe/x", "/manage/x"):
        page = visitor.http.post(path, content=body, headers={"content-type": content_type})
        assert_calm(page, (400, 403))
        assert page.text.startswith("<!DOCTYPE html>"), (path, page.text[:80])


def test_uploads_and_too_many_fields_get_our_page(visitor: Visitor):
    visitor.open()
    fields = {"csrf": (None, visitor.token), **{f"f{n}": (None, "x") for n in range(100)}}
    upload = {"csrf": (None, visitor.token), "email": ("me.txt", b"ada@example.org")}
    for files in (fields, upload):
        page = visitor.http.post("/subscribe", files=files)
        assert_calm(page, 400)
        assert "The form could not be read" in page.text
