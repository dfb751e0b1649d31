"""A changed profile is matched against the recent papers at once, with 20,000 other readers in the database.

The page's preview shows the new interest's papers, and the next digest carries exactly what the
new profile matches: nobody else's matches are recomputed or touched.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select

from bot.jobs import match as matching
from bot.jobs.plan import plan_digests
from bot.models import Paper, SubscriberInput
from bot.store import matches, open_database, outbox, papers, subscriber_batches, subscribers
from bot.store.schema import MatchRow
from subscribers import service

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)
TOPICS = ("diffusion", "reward model", "graph neural", "protein folding", "retrieval")
OTHERS = 20_000


def paper(n: int) -> Paper:
    topic = TOPICS[n % len(TOPICS)]
    extra = " with sparse autoencoders" if n % 7 == 0 else ""
    return Paper(id=f"arxiv:2612.{n:05d}", title=f"On {topic}{extra}, part {n}", abstract=f"We study {topic} at scale.",
                 published=NOW - timedelta(hours=n % 20))


def match_rows(db) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(MatchRow))


def test_an_edited_profile_is_matched_at_once_among_twenty_thousand_others(tmp_path):
    db = open_database(f"sqlite:///{tmp_path / 'many.db'}")
    recent = [paper(n) for n in range(70)]
    people = [SubscriberInput(email=f"reader{n}@example.org", interests=(TOPICS[n % len(TOPICS)],)) for n in range(OTHERS)]
    with db.session() as session:
        subscriber_batches.save_many(session, people + [SubscriberInput("me@example.org", ("protein folding",))],
                                     "active", NOW - timedelta(days=1))
        papers.upsert_papers(session, recent, None, NOW - timedelta(hours=1))
    first = matching.match_pending(db, NOW, recent_days=3, trending_top=5)
    assert (first.papers, first.profiles) == (70, OTHERS + 1)
    before = match_rows(db)
    with db.session() as session:
        me = subscribers.find_by_identifier(session, "me@example.org")
        others_before = session.scalar(select(func.count()).select_from(MatchRow).where(MatchRow.subscriber_id != me.id))

    # The person edits their interests on the manage page: the preview shows the new interest's papers...
    edited = ("sparse autoencoders -diffusion",)
    shown = service.preview(db, edited, NOW, recent_days=3, trending_top=5)
    wanted = {p.id for p in recent if "sparse" in p.title and "diffusion" not in p.title}
    assert shown.count == len(wanted) and {item.paper.id for item in shown.items} <= wanted
    service.update_profile(db, me.id, SubscriberInput("me@example.org", edited), NOW + timedelta(seconds=30))

    # ...and the next matching run takes that one profile alone over the recent papers.
    again = matching.match_pending(db, NOW + timedelta(minutes=1), recent_days=3, trending_top=5)
    assert (again.papers, again.profiles) == (0, 1)
    with db.session() as session:
        mine = set(session.scalars(select(MatchRow.paper_id).where(MatchRow.subscriber_id == me.id)))
        others_after = session.scalar(select(func.count()).select_from(MatchRow).where(MatchRow.subscriber_id != me.id))
    assert mine == wanted  # the old interest's unsent matches went with it
    assert others_after == others_before  # nobody else's matches were recomputed or dropped
    assert match_rows(db) == before - 14 + len(wanted)  # 14: the papers of "protein folding"

    # The next digest carries exactly the new profile's matches.
    report = plan_digests(db, NOW + timedelta(minutes=2), ignore_hour=True, only_subscriber=me.id)
    assert report.planned == 1
    with db.session() as session:
        [item] = [i for i in outbox.claim(session, NOW + timedelta(minutes=2), owner_id=1, limit=10)
                  if i.subscriber_id == me.id]
        carried = matches.matches_by_outbox(session, [item.id])[item.id]
    assert {m.paper_id for m in carried} == wanted
    assert all(m.interests == edited for m in carried)
    # Hits are not stored: they are found again for the message, in the title where the words are.
    assert all({(h.term, h.field) for h in m.hits} == {("sparse", "title"), ("autoencoders", "title")} for m in carried)
    db.dispose()
