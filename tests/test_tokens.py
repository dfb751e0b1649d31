"""Signed links: v2 bound to the per-subscriber secret, v1 (minted by the previous release) still read, forgeries refused."""

from __future__ import annotations

import hashlib
import secrets

import pytest
from itsdangerous import URLSafeTimedSerializer

from bot.models import Subscriber
from bot.tokens import MAX_ID, BadToken, Claim, Tokens, new_secret

KEY = "test-secret-key-0123456789abcdef"


def person(id: int = 7, email: str | None = "ada@example.org", secret: str | None = None,
           chat: str | None = None) -> Subscriber:
    return Subscriber(id=id, email=email, status="active", interests=("x",), telegram_chat_id=chat,
                      token_secret=new_secret() if secret is None else secret)


def previous_release_token(purpose: str, subscriber_id: int, email: str) -> str:
    """Exactly what the previous release's bot/tokens.py minted (its code, copied)."""
    tag = hashlib.sha256(email.lower().encode()).hexdigest()[:10]
    return URLSafeTimedSerializer(KEY, salt=f"paperpost.{purpose}").dumps([subscriber_id, tag])


def test_a_v2_token_names_its_subscriber_and_version():
    tokens, ada = Tokens(KEY), person()
    claim = tokens.read("manage", tokens.make("manage", ada))
    assert claim.version == 2 and claim.subscriber_id == ada.id
    assert Tokens.belongs_to(claim, ada)


def test_a_chat_only_person_gets_working_tokens():
    tokens, chat_only = Tokens(KEY), person(email=None, chat="4242")
    for purpose in ("manage", "unsubscribe", "digest", "telegram"):
        assert Tokens.belongs_to(tokens.read(purpose, tokens.make(purpose, chat_only)), chat_only)  # type: ignore[arg-type]


def test_a_new_secret_ends_every_v2_link():
    tokens, ada = Tokens(KEY), person()
    claim = tokens.read("unsubscribe", tokens.make("unsubscribe", ada))
    rotated = Subscriber(**{**ada.__dict__, "token_secret": new_secret()})
    assert not Tokens.belongs_to(claim, rotated)


def test_v1_links_of_the_previous_release_hold_while_the_migrated_secret_lasts():
    tokens = Tokens(KEY)
    migrated = person(secret=secrets.token_hex(16))  # what migration 0002 gave every existing row
    for purpose in ("confirm", "manage", "unsubscribe", "digest"):
        claim = tokens.read(purpose, previous_release_token(purpose, migrated.id, "Ada@Example.org"))  # type: ignore[arg-type]
        assert claim == Claim(1, migrated.id, hashlib.sha256(b"ada@example.org").hexdigest()[:10])
        assert Tokens.belongs_to(claim, migrated)
    claim = tokens.read("manage", previous_release_token("manage", migrated.id, "ada@example.org"))
    assert not Tokens.belongs_to(claim, Subscriber(**{**migrated.__dict__, "token_secret": new_secret()}))  # rotated
    assert not Tokens.belongs_to(claim, person(secret=new_secret()))  # a row made since: same id, same address
    assert not Tokens.belongs_to(claim, Subscriber(**{**migrated.__dict__, "email": "bo@example.org"}))
    assert not Tokens.belongs_to(claim, Subscriber(**{**migrated.__dict__, "id": 8}))
    made = tokens.read("manage", tokens.make_v1("manage", migrated.id, "ada@example.org"))  # the test helper
    assert made == Claim(1, migrated.id, claim.tag)


@pytest.mark.parametrize("payload", [
    [10**30, "abc"], [2, 10**30, "abc"], [MAX_ID + 1, "abc"], [2, MAX_ID + 1, "abc"], [0, "abc"], [-5, "abc"],
    [True, "abc"], [2, True, "abc"], ["7", "abc"], [3, 7, "abc"], [True, 7, "abc"], [7, 5], {"id": 7}, 7, None,
    [2, 7], [2, 7, "abc", "d"], [7.0, "abc"],
])
def test_well_signed_nonsense_is_a_bad_token_never_another_error(payload: object):
    forged = URLSafeTimedSerializer(KEY, salt="paperpost.manage").dumps(payload)
    with pytest.raises(BadToken):
        Tokens(KEY).read("manage", forged)


def test_a_token_for_one_purpose_or_key_fails_for_another():
    tokens, ada = Tokens(KEY), person()
    with pytest.raises(BadToken):
        tokens.read("unsubscribe", tokens.make("manage", ada))
    with pytest.raises(BadToken):
        Tokens("another-key-entirely-0123456789").read("manage", tokens.make("manage", ada))


def test_a_non_ascii_tag_is_simply_not_theirs():
    forged = URLSafeTimedSerializer(KEY, salt="paperpost.manage").dumps([2, 7, "ünïcode"])
    assert not Tokens.belongs_to(Tokens(KEY).read("manage", forged), person())


def test_a_person_without_a_secret_gets_no_token():
    with pytest.raises(ValueError, match="token secret"):
        Tokens(KEY).make("manage", person(secret=""))
