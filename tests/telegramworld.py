"""Test helpers for Telegram: an App wired to the fake Bot API server, chats, papers and their matches."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime

import pytest

from fakebotapi import FakeBotAPI
from mailworld import Clock, make_app

from bot.app import App
from bot.models import Hit, Match, Paper, Subscriber, SubscriberInput
from bot.store import matches, papers, subscribers


def now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
def server() -> Iterator[FakeBotAPI]:
    """The fake Bot API server (import this fixture into a test module to use it)."""
    with FakeBotAPI() as fake:
        yield fake


def telegram_app(env: Mapping[str, str], server: FakeBotAPI, clock: Clock | None = None, **settings: str) -> App:
    values = {"PAPERPOST_TELEGRAM_TOKEN": server.token, "PAPERPOST_TELEGRAM_API_URL": server.base_url,
              "PAPERPOST_TELEGRAM_TIMEOUT": "5", **settings}
    return make_app(env, clock or Clock(), **values)


def add_chats(app: App, count: int, *, first: int = 1000, started: bool = True,
              interests: tuple[str, ...] = ("reward model",)) -> list[Subscriber]:
    """`count` chat-only subscribers, active; `started`: they wrote /start."""
    people = []
    with app.db.session() as session:
        for n in range(count):
            person, _ = subscribers.save_subscriber(session, SubscriberInput(None, interests,
                                                                             telegram_chat_id=str(first + n)),
                                                    "active", app.clock())
            if started:
                person = subscribers.telegram_started(session, person.id)
            people.append(person)
    return people


def paper(n: int, tag: str = "a", **fields: object) -> Paper:
    values: dict[str, object] = dict(
        id=f"arxiv:2611.{tag}{n:04d}", title=f"Reward model calibration, part {tag}{n}",
        abstract="We study how a reward model drifts under optimisation pressure.",
        authors=("Ada Lovelace", "Alan Turing", "Grace Hopper", "Edsger Dijkstra"), categories=("cs.LG", "cs.CL"),
        links={"abs": f"https://arxiv.org/abs/2611.{n:05d}", "pdf": f"https://arxiv.org/pdf/2611.{n:05d}"})
    values.update(fields)
    return Paper(**values)  # type: ignore[arg-type]


def match_for(person: Subscriber, found: Paper) -> Match:
    hits = [Hit("reward model", field, at, at + 12) for field, text in (("title", found.title), ("abstract", found.abstract))
            if (at := text.lower().find("reward model")) >= 0]
    return Match(person.id, found.id, 2.0, ("reward model",), tuple(hits))


def add_matched_papers(app: App, people: list[Subscriber], count: int, *, tag: str = "a",
                       now: datetime | None = None) -> list[Paper]:
    """`count` papers, each matched to everyone in `people`."""
    found = [paper(n, tag) for n in range(count)]
    with app.db.session() as session:
        papers.upsert_papers(session, found, None, now or app.clock())
        matches.save_matches(session, [match_for(p, f) for p in people for f in found], now or app.clock())
    return found
