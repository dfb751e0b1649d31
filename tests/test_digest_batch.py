"""A claim's digests loaded at once: a few queries however many rows, and the same bytes as composing one row."""

from __future__ import annotations


from mailworld import Clock, add_matches, add_people, make_app
from sqlalchemy import event

from bot.digest.assembly import assemble_digest
from bot.jobs.plan import plan_digests
from bot.channels.email.digest_mail import DigestBatch, compose_digest
from bot.store import matches, outbox, papers, subscribers


def planned(env, count: int):
    app = make_app(env, Clock())
    people = add_people(app, count)
    add_matches(app, people, per_person=3)
    add_matches(app, people[: count // 2], tag="b", per_person=2)
    plan_digests(app.db, app.clock(), ignore_hour=True)
    with app.db.session() as session:
        items = outbox.claim(session, app.clock(), owner_id=1, limit=count)
    return app, items


def test_a_batch_loads_in_a_few_queries_however_many_rows(env):
    app, items = planned(env, 60)
    statements: list[str] = []
    event.listen(app.db.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    with app.db.session() as session:
        batch = DigestBatch.load(session, items, 25)
    assert len(statements) <= 4  # subscribers, their interests, matches, papers
    assert set(batch.people) == {i.subscriber_id for i in items}
    assert sorted(len(batch.carried[i.id]) for i in items) == [3] * 30 + [5] * 30
    assert len(batch.papers) == 5
    app.close()


def shown(digest):
    """What a digest shows: its subject, its papers with their highlights and reasons, what is left out."""
    def item(i):
        return i.paper, i.title, i.snippet, i.why, i.authors, i.links, i.liked
    return (digest.subscriber, digest.period, digest.subject, digest.more, [item(i) for i in digest.items],
            [item(i) for i in digest.suggestions])


def test_composing_from_a_batch_gives_the_same_digest_as_composing_the_row_alone(env):
    app, items = planned(env, 6)
    ctx = app.mail_context
    with app.db.session() as session:
        batch = DigestBatch.load(session, items, 25)
        compose = compose_digest.prepare(session, items, ctx)
        alone = [compose_digest(session, item, ctx) for item in items]
        # The row-at-a-time loads the batch replaces, as the reference.
        stored = [assemble_digest(subscribers.get_subscriber(session, i.subscriber_id), carried,
                                  papers.papers_by_id(session, [m.paper_id for m in carried]), period=i.period,
                                  links=None, cap=ctx.config["PAPERPOST_DIGEST_MAX"])
                  for i in items for carried in [matches.matches_of_outbox(session, i.id)]]
    together = [compose(item) for item in items]
    assert all(e is not None for e in together)

    def key(e):
        return e.recipient, e.subject, e.message_id, e.data.count(b"arxiv.org/abs/")

    assert [key(e) for e in together] == [key(e) for e in alone]
    assert len({e.recipient for e in together}) == 6
    # Signed links carry the time they were made (itsdangerous), so the digests are compared without them,
    # by what they show (a batch's matches carry no hits: their items find them when shown).
    assert [shown(batch.digest(i, ctx)) for i in items] == [shown(d) for d in stored]
    app.close()


def test_a_subscriber_who_paused_since_planning_gets_nothing(env):
    app, items = planned(env, 2)
    with app.db.session() as session:
        subscribers.set_status(session, items[0].subscriber_id, "paused", app.clock())
        compose = compose_digest.prepare(session, items, app.mail_context)
    assert compose(items[0]) is None
    assert compose(items[1]) is not None
    app.close()
