"""`digest --now` sends while it plans: the first committed group goes out before the rest is planned, each digest once."""

from __future__ import annotations

import threading
from pathlib import Path

from mailworld import Clock, add_matches, add_people, make_app
from sqlalchemy import create_engine, text

from bot.jobs.cycle import plan_and_send, plan_step, sender_owner
from bot.store import matches, outbox

WAIT = 60.0  # seconds a test waits for the sender before it fails (never reached when sending works)


def test_sending_starts_with_the_first_group_while_planning_goes_on(database_url, env, tmp_path):
    app = make_app({**env, "DATABASE_URL": database_url}, Clock())
    people = add_people(app, 7)
    add_matches(app, people, per_person=3)
    sent: list[tuple[int, int]] = []  # (outbox id, groups committed when it was sent)
    commits: list[int] = []
    first_sent = threading.Event()

    def on_progress(item, result) -> None:
        sent.append((item.id, len(commits)))
        first_sent.set()

    def on_commit() -> None:
        commits.append(len(commits) + 1)
        if len(commits) == 1:  # the planner waits here until the sender has sent from the first group
            assert first_sent.wait(WAIT), "nothing was sent while planning went on"

    with sender_owner(app) as owner:
        planned, report = plan_and_send(app, owner, ignore_hour=True, group=3, on_commit=on_commit,
                                        on_progress=on_progress)
    assert (planned.planned, report.sent, report.failed, len(commits)) == (7, 7, 0, 3)
    assert sent[0][1] == 1  # the first message went out when one group of three was committed, not all
    with app.db.session() as session:
        rows = [i for i in outbox.list_outbox(session) if i.kind == "digest"]
        assert sorted(i.subscriber_id for i in rows) == sorted(p.id for p in people)
        assert all(i.state == "sent" and i.attempts == 1 for i in rows)
        assert all(len(matches.matches_of_outbox(session, i.id)) == 3 for i in rows)  # every match went with it
    assert sorted(outbox_id for outbox_id, _ in sent) == sorted(i.id for i in rows)  # each one once
    assert len(list(Path(env["PAPERPOST_DATA"]).rglob("*.eml"))) == 7
    app.close()


def test_with_nothing_new_to_plan_the_last_pass_still_sends_what_waits(database_url, env):
    app = make_app({**env, "DATABASE_URL": database_url}, Clock())
    people = add_people(app, 2)
    add_matches(app, people)
    plan_step(app, ignore_hour=True)  # planned by an earlier run that stopped before sending
    with sender_owner(app) as owner:
        planned, report = plan_and_send(app, owner, ignore_hour=True)
    assert (planned.planned, planned.nothing_new, report.sent) == (0, 2, 2)
    with app.db.session() as session:
        assert [i.state for i in outbox.list_outbox(session)] == ["sent", "sent"]
    app.close()


def test_a_planned_digest_is_seen_by_other_processes_only_with_its_matches(database_url, env):
    """Until the planner's transaction commits, another connection sees neither the digest rows nor their links.

    On SQLite a SAVEPOINT around the rows' INSERT used to commit them at once (the driver had not begun a
    transaction after only SELECTs), and a sender in another process took digests that carried nothing.
    """
    app = make_app({**env, "DATABASE_URL": database_url}, Clock())
    people = add_people(app, 3)
    add_matches(app, people)
    other = create_engine(database_url)
    seen = []
    with app.db.session() as session:
        created = outbox.plan_many(session, [(p.id, "2026-11-28") for p in people], "email", "digest", app.clock())
        with other.connect() as connection:
            seen.append(connection.execute(text("SELECT count(*) FROM outbox")).scalar())
        matches.attach_unsent(session, sorted(created.values()), "email")
        assert outbox.plan_many(session, [(people[0].id, "2026-11-28")], "email", "digest", app.clock()) == {}
    with other.connect() as connection:
        seen.append(connection.execute(text("SELECT count(*) FROM outbox")).scalar())
        seen.append(connection.execute(text("SELECT count(*) FROM match_deliveries")).scalar())
    other.dispose()
    assert seen == [0, 3, 6]  # nothing before the commit; after it, every digest with its two matches
    app.close()


def test_linking_skips_the_matches_a_message_carries_already_on_that_channel(database_url, env):
    """attach_unsent gives a new digest only what no message carries on its channel; other channels are apart."""
    app = make_app({**env, "DATABASE_URL": database_url}, Clock())
    people = add_people(app, 2)
    add_matches(app, people, per_person=3)
    with app.db.session() as session:
        first = outbox.plan_many(session, [(p.id, "2026-11-28") for p in people], "email", "digest", app.clock())
        carried = matches.unsent_match_ids(session, people[0].id)[:2]
        matches.attach_to_outbox(session, carried, first[people[0].id])  # two of three went in a message
        alert = outbox.plan(session, people[0].id, "telegram", "alert", "2026-11-28T12", app.clock())
        matches.attach_unsent(session, [alert], "telegram")  # the same matches on another channel
        matches.attach_unsent(session, sorted(first.values()))
        assert len(matches.matches_of_outbox(session, first[people[0].id])) == 3
        assert len(matches.matches_of_outbox(session, first[people[1].id])) == 3
        assert len(matches.matches_of_outbox(session, alert)) == 3
        later = outbox.plan_many(session, [(p.id, "2026-11-29") for p in people], "email", "digest", app.clock())
        matches.attach_unsent(session, sorted(later.values()))  # nothing new: every match is carried by email
        assert [matches.matches_of_outbox(session, i) for i in later.values()] == [[], []]
    app.close()
