"""Test helpers for delivery: an App on a temporary database with a settable clock, subscribers and matches."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta, timezone

from bot.app import App
from bot.config import load_config
from bot.models import Hit, Match, Paper, Subscriber, SubscriberInput
from bot.store import matches, papers, subscribers

START = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)


class Clock:
    """A clock a test moves by hand."""

    def __init__(self, now: datetime = START):
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def make_app(env: Mapping[str, str], clock: Clock, **settings: str) -> App:
    values = {**env, "PAPERPOST_SECRET_KEY": "test-secret", "PAPERPOST_BASE_URL": "https://papers.example.org",
              "PAPERPOST_MAIL_FROM": "paperpost <digest@papers.example.org>", **settings}
    return App(load_config(values), clock=clock)


def add_people(app: App, count: int, *, prefix: str = "reader", tz: str = "UTC", hour: int = 7) -> list[Subscriber]:
    with app.db.session() as session:
        return [subscribers.save_subscriber(session, SubscriberInput(f"{prefix}{n}@example.org", ("reward model",),
                                                                     tz=tz, hour=hour), "active", app.clock())[0]
                for n in range(count)]


def add_matches(app: App, people: list[Subscriber], *, tag: str = "a", per_person: int = 2) -> None:
    """`per_person` papers on reward models, matched to everyone in `people`."""
    found = [Paper(id=f"arxiv:2611.{tag}{n:04d}", title=f"Reward model calibration, part {tag}{n}",
                   abstract="We study how a reward model drifts under optimisation pressure. " * 3,
                   authors=("Ada Lovelace", "Alan Turing"), categories=("cs.LG",),
                   links={"abs": f"https://arxiv.org/abs/2611.{n:05d}", "pdf": f"https://arxiv.org/pdf/2611.{n:05d}"})
             for n in range(per_person)]
    with app.db.session() as session:
        papers.upsert_papers(session, found, None, app.clock())
        matches.save_matches(session, [Match(p.id, paper.id, 2.0, ("reward model",), (Hit("reward model", "title", 0, 12),))
                                       for p in people for paper in found], app.clock())
