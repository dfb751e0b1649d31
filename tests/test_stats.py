"""`paperpost stats`: its counts against seeded data, on SQLite and PostgreSQL, as JSON lines and as tables."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta, timezone

import pytest

from bot.cli import main
from bot.store import open_database
from bot.store.schema import OutboxRow, PaperRow, PaperSourceRow, SourceRow, SubscriberRow, WorkerRow



def at(day: date, hour: int = 12) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=timezone.utc)


def days_ago(n: int) -> date:
    return datetime.now(timezone.utc).date() - timedelta(days=n)


def seed(url: str, now: datetime) -> None:
    db = open_database(url)
    with db.session() as s:
        arxiv = SourceRow(name="arxiv-cs-cl", url="https://rss.arxiv.org/rss/cs.CL", kind="arxiv", active=True,
                          failures=0, created_at=at(days_ago(30)))
        hf = SourceRow(name="hf-daily", url="https://huggingface.co/api/daily_papers", kind="hf", active=True,
                       failures=0, created_at=at(days_ago(30)))
        s.add_all([arxiv, hf])
        s.flush()
        seen = {"p1": 0, "p2": 0, "p3": 0, "p4": 1, "p5": 1, "p6": 10, "p7": 0, "p8": 6}
        for name, ago in seen.items():
            s.add(PaperRow(id=f"arxiv:{name}", title=name, abstract="", authors=[], categories=[], links={},
                           first_seen=at(days_ago(ago), 1), last_seen=at(days_ago(ago), 1)))
        s.flush()
        for name, source in [("p1", arxiv), ("p2", arxiv), ("p3", arxiv), ("p3", hf), ("p4", hf), ("p5", hf),
                             ("p6", arxiv), ("p8", arxiv)]:  # p7: no source
            s.add(PaperSourceRow(paper_id=f"arxiv:{name}", source_id=source.id))
        people = [
            ("active", "a1@example.org", "on", None, "on"),
            ("active", "a2@example.org", "off", "200", "on"),
            ("active", None, "on", "300", "on"),
            ("paused", "p@example.org", "on", "400", "off"),
            ("pending", "n@example.org", "on", None, "on"),
            ("unsubscribed", "u1@example.org", "on", "500", "on"),
            ("unsubscribed", "u2@example.org", "off", None, "on"),
        ]
        rows = [SubscriberRow(status=status, email=email, email_state=email_state, telegram_chat_id=chat,
                              telegram_state=tg_state, created_at=at(days_ago(20)), frequency="daily", weekday=0,
                              hour=7, tz="UTC", send_empty=False, bounces=0)
                for status, email, email_state, chat, tg_state in people]
        s.add_all(rows)
        s.flush()
        who = rows[0].id
        messages = [  # (channel, state, created day ago, sent day ago, retry)
            ("email", "sent", 0, 0, False), ("email", "sent", 1, 0, False), ("email", "sent", 1, 1, False),
            ("telegram", "sent", 0, 0, False), ("email", "failed", 0, None, False), ("email", "failed", 0, None, True),
            ("email", "dropped", 1, None, False), ("email", "queued", 1, None, False),
            ("email", "queued", 2, None, False), ("telegram", "queued", 0, None, False),
            ("email", "sending", 0, None, False), ("email", "sent", 9, 9, False), ("email", "dropped", 12, None, False),
        ]
        for n, (channel, state, created, sent, retry) in enumerate(messages):
            s.add(OutboxRow(subscriber_id=who, channel=channel, kind="digest", period=f"p{n}", state=state, attempts=1,
                            created_at=at(days_ago(created), 2 + n), sent_at=None if sent is None else at(days_ago(sent), 3),
                            next_attempt_at=now + timedelta(minutes=5) if retry else None,
                            lease_until=now + timedelta(minutes=5) if state == "sending" else None))
        started = now - timedelta(hours=2)
        s.add_all([
            WorkerRow(host="box-a", pid=101, roles="poll,plan,send", started_at=started, heartbeat_at=now - timedelta(seconds=20)),
            WorkerRow(host="box-b", pid=202, roles="send", started_at=started + timedelta(minutes=1),
                      heartbeat_at=now - timedelta(seconds=40)),
            WorkerRow(host="box-a", pid=99, roles="send", started_at=started, heartbeat_at=now - timedelta(seconds=20),
                      stopped_at=now - timedelta(seconds=10)),  # stopped
            WorkerRow(host="box-c", pid=303, roles="send", started_at=started, heartbeat_at=now - timedelta(hours=1)),
        ])
    db.dispose()


@pytest.fixture
def seeded(database_url, env, monkeypatch) -> datetime:  # type: ignore[no-untyped-def]
    """The seed, laid out around the real clock the CLI reads (today, UTC); gives the time it was seeded."""
    now = datetime.now(timezone.utc)
    seed(database_url, now)
    monkeypatch.setenv("DATABASE_URL", database_url)
    return now


def stats_json(capsys, *args: str) -> dict[str, list[dict]]:  # type: ignore[no-untyped-def]
    capsys.readouterr()
    main(["stats", "--json", *args])
    sections: dict[str, list[dict]] = {}
    for line in capsys.readouterr().out.splitlines():
        row = json.loads(line)
        sections.setdefault(row.pop("section"), []).append(row)
    return sections


def test_stats_json_counts_match_the_seed(seeded, capsys):
    found = stats_json(capsys)
    assert set(found) == {"subscribers", "channels", "papers", "messages", "backlog", "alerts", "workers"}
    assert found["subscribers"] == [{"status": "pending", "count": 1}, {"status": "active", "count": 3},
                                    {"status": "paused", "count": 1}, {"status": "unsubscribed", "count": 2}]
    assert found["channels"] == [  # the unsubscribed are left out
        {"channel": "email", "state": "on", "count": 3}, {"channel": "email", "state": "off", "count": 1},
        {"channel": "telegram", "state": "on", "count": 2}, {"channel": "telegram", "state": "off", "count": 1}]
    d = [days_ago(n).isoformat() for n in range(13)]
    assert found["papers"] == [  # p6 (10 days ago) is out of the 7 days
        {"day": d[6], "source": "arxiv-cs-cl", "count": 1},
        {"day": d[1], "source": "hf-daily", "count": 2},
        {"day": d[0], "source": None, "count": 1},
        {"day": d[0], "source": "arxiv-cs-cl", "count": 3},
        {"day": d[0], "source": "hf-daily", "count": 1}]
    assert found["messages"] == [
        {"day": d[1], "channel": "email", "sent": 1, "failed": 0, "dropped": 1},
        {"day": d[0], "channel": "email", "sent": 2, "failed": 2, "dropped": 0},
        {"day": d[0], "channel": "telegram", "sent": 1, "failed": 0, "dropped": 0}]
    backlog = {(b["state"], b["channel"]): (b["count"], b["oldest"][:10]) for b in found["backlog"]}
    assert backlog == {("queued", "email"): (2, d[2]), ("queued", "telegram"): (1, d[0]),
                       ("sending", "email"): (1, d[0]), ("retrying", "email"): (1, d[0])}
    assert [(w["host"], w["pid"], w["roles"]) for w in found["workers"]] == [
        ("box-a", 101, ["poll", "plan", "send"]), ("box-b", 202, ["send"])]
    assert all(datetime.fromisoformat(w["heartbeat_at"]) > seeded - timedelta(minutes=1) for w in found["workers"])


def test_stats_days_widens_the_window(seeded, capsys):
    found = stats_json(capsys, "--days", "14")
    assert sum(p["count"] for p in found["papers"]) == 9  # every paper-source pair, p6's included
    assert sum(m["sent"] for m in found["messages"]) == 5 and sum(m["dropped"] for m in found["messages"]) == 2
    one_day = stats_json(capsys, "--days", "1")
    assert {p["day"] for p in one_day["papers"]} == {days_ago(0).isoformat()}


def test_stats_tables_show_each_section(seeded, capsys):
    main(["stats"])
    out = capsys.readouterr().out
    for title in ("Subscribers", "Channels", "Papers first seen since", "Messages since", "Backlog", "Live workers"):
        assert title in out
    assert "box-b" in out and "poll,plan,send" in out and "box-c" not in out and "(no source)" in out
