"""Saving many subscribers at once gives exactly what saving them one by one gives, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timezone

from bot.models import SubscriberInput
from bot.store import open_database, subscriber_batches, subscribers

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)


def person(email: str | None, *interests: str, chat: str | None = None, hour: int = 7) -> SubscriberInput:
    return SubscriberInput(email=email, interests=interests or ("reward model",), hour=hour, telegram_chat_id=chat)


def snapshot(db) -> list[tuple]:
    with db.session() as session:
        return [(p.email, p.telegram_chat_id, p.status, p.interests, p.hour, bool(p.token_secret))
                for p in subscribers.list_subscribers(session)]


BATCH = [
    person("new@example.org", "diffusion"),
    person("Known@Example.org", "reward model"),  # stored already, the same profile: unchanged
    person("changed@example.org", "vision", hour=9),  # stored already, new interests and hour: updated
    person(None, "agents", chat="4242"),  # a chat-only person, new
    person("twice@example.org", "first"),
    person("twice@example.org", "second"),  # the same person again in one file: the later row wins
    person("clash@example.org", "x", chat="777"),  # that chat is someone else's: refused, nothing written
    person(None, "kept chat", chat="888"),  # stored chat-only person, unchanged
]


def seed(db) -> None:
    with db.session() as session:
        for data in (person("known@example.org", "reward model"), person("changed@example.org", "old"),
                     person("owner@example.org", chat="777"), person(None, "kept chat", chat="888")):
            subscribers.save_subscriber(session, data, "active", NOW)


def test_a_batch_saves_what_one_by_one_saves(db, database_url, tmp_path):
    seed(db)
    with db.session() as session:
        outcomes = subscriber_batches.save_many(session, BATCH, "active", NOW)
    shown = [o if isinstance(o, str) else "refused" for o in outcomes]
    assert shown == ["created", "unchanged", "updated", "created", "created", "updated", "refused", "unchanged"]
    assert "777" in str(outcomes[6]) and "owner@example.org" in str(outcomes[6])
    batched = snapshot(db)

    reference = open_database(f"sqlite:///{tmp_path / 'one_by_one.db'}")
    seed(reference)
    with reference.session() as session:
        for data in BATCH:
            try:
                with session.begin_nested():
                    subscribers.save_subscriber(session, data, "active", NOW)
            except subscribers.IdentityTaken:
                pass
    assert sorted(batched, key=repr) == sorted(snapshot(reference), key=repr)
    reference.dispose()
    assert ("clash@example.org" not in {row[0] for row in batched})


def test_a_second_import_of_the_same_people_changes_nothing(db):
    people = [person(f"reader{n}@example.org", f"topic {n}", chat=str(1000 + n) if n % 3 == 0 else None)
              for n in range(1200)]  # more than one chunk
    with db.session() as session:
        assert set(subscriber_batches.save_many(session, people, "active", NOW)) == {"created"}
    first = snapshot(db)
    with db.session() as session:
        assert set(subscriber_batches.save_many(session, people, "active", NOW)) == {"unchanged"}
    assert snapshot(db) == first
    with db.session() as session:
        assert subscribers.find_by_identifier(session, "tg:1003").email == "reader3@example.org"
        assert subscribers.find_subscriber(session, "reader1199@example.org").interests == ("topic 1199",)


def test_a_pending_person_imported_by_the_operator_becomes_active(db):
    with db.session() as session:
        subscribers.save_subscriber(session, person("waiting@example.org"), "pending", NOW)
        assert subscriber_batches.save_many(session, [person("waiting@example.org")], "active", NOW) == ["updated"]
        assert subscribers.find_subscriber(session, "waiting@example.org").status == "active"
