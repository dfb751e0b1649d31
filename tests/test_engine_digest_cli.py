"""`paperpost digest --only WHO` names a subscriber by email, tg:CHAT_ID or #ID; a person without email gets none."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime

from mailworld import Clock, add_matches, add_people, make_app

from bot.models import SubscriberInput
from bot.store import outbox, subscribers

SETTINGS = {"PAPERPOST_SECRET_KEY": "test-secret", "PAPERPOST_BASE_URL": "https://papers.example.org",
            "PAPERPOST_MAIL_FROM": "paperpost <digest@papers.example.org>"}


def digest(env, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot", "digest", "--now", *args],
                          env={**os.environ, **env, **SETTINGS}, capture_output=True, text=True, timeout=120)


def sent_to(app) -> list[str]:
    with app.db.session() as session:
        return sorted(i.email for i in outbox.list_outbox(session) if i.state == "sent")


def test_only_takes_an_email_a_chat_or_an_id(env):
    app = make_app(env, Clock(datetime.now(UTC)))
    people = add_people(app, 3)
    with app.db.session() as session:
        chat_only = subscribers.save_subscriber(session, SubscriberInput(None, ("reward model",), telegram_chat_id="777"),
                                                "active", app.clock())[0]
        with_chat = subscribers.save_subscriber(session, SubscriberInput("reader1@example.org", ("reward model",),
                                                                         telegram_chat_id="555"), "active", app.clock())[0]
    add_matches(app, [*people, chat_only])
    assert with_chat.id == people[1].id

    by_id = digest(env, "--only", f"#{people[2].id}")
    assert by_id.returncode == 0, by_id.stderr
    assert sent_to(app) == ["reader2@example.org"]
    by_chat = digest(env, "--only", "tg:555")
    assert by_chat.returncode == 0, by_chat.stderr
    assert sent_to(app) == ["reader1@example.org", "reader2@example.org"]
    nobody = digest(env, "--only", "tg:999")
    assert (nobody.returncode, nobody.stdout) == (1, "")
    assert "No subscriber tg:999" in nobody.stderr

    everyone = digest(env)  # the chat-only person has no email digest: nothing queued, nothing dropped
    assert everyone.returncode == 0, everyone.stderr
    assert sent_to(app) == [f"reader{n}@example.org" for n in range(3)]
    with app.db.session() as session:
        assert [i for i in outbox.list_outbox(session) if i.subscriber_id == chat_only.id] == []
    app.close()
