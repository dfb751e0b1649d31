"""Telegram alerts end to end: planned from new matches, sent by the real python-telegram-bot client to the fake
Bot API server, every error answered as the issue asks (403 off after the first, 429 delays one chat and loses and
doubles nothing, 400 final, a migrated chat followed), and parts of a split message never sent twice."""

from __future__ import annotations

import re
import time
from collections import Counter
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner
from fakebotapi import FakeBotAPI
from telegram_html import check_message
from telegramworld import add_chats, add_matched_papers, now, paper, server, telegram_app  # noqa: F401 - server: a fixture

from bot.cli import cli
from bot.jobs.alerts import plan_alerts
from bot.jobs.cycle import send_step
from bot.models import Match
from bot.store import matches, outbox, papers, subscribers


@pytest.fixture
def tg(env, server):
    app = telegram_app(env, server, now)
    yield app
    app.close()


def send_until_done(app, rounds: int = 20) -> None:
    """Send passes until nothing waits (retries come due on the real clock)."""
    for _ in range(rounds):
        send_step(app)
        with app.db.session() as session:
            waiting = outbox.count_claimable(session, now() + __import__("datetime").timedelta(minutes=1))
        if not waiting:
            return
        time.sleep(0.5)
    raise AssertionError("the outbox never emptied")


def papers_sent(server: FakeBotAPI, chat) -> Counter:  # type: ignore[no-untyped-def]
    """How often each paper's title reached `chat`."""
    seen: Counter = Counter()
    for call in server.sent(chat):
        for line in check_message(call.params["text"]).text.splitlines():
            if "Reward model calibration, part" in line:
                seen[line.split("part ")[1].split()[0]] += 1
    return seen


def test_new_matches_become_alerts_and_more_than_five_become_one_grouped_message(tg, server):
    one, many = add_chats(tg, 2)
    add_matched_papers(tg, [one], 2)
    add_matched_papers(tg, [many], 7, tag="b")
    planned = plan_alerts(tg.db, tg.clock())
    assert (planned.alerts, planned.grouped) == (2, 1)
    assert plan_alerts(tg.db, tg.clock()) == type(planned)()  # planning again alerts nothing twice
    send_step(tg)
    assert papers_sent(server, one.telegram_chat_id) == Counter({"a0": 1, "a1": 1})
    assert len(server.sent(many.telegram_chat_id)) == 1
    assert papers_sent(server, many.telegram_chat_id) == Counter({f"b{n}": 1 for n in range(7)})
    single = server.sent(one.telegram_chat_id)[0].params
    assert single["parse_mode"] == "HTML"
    assert [b["text"] for b in single["reply_markup"]["inline_keyboard"][0]] == ["Abstract", "PDF"]


def test_a_chat_an_operator_added_is_sent_nothing_until_it_writes_start(tg, server):
    quiet, = add_chats(tg, 1, started=False)
    add_matched_papers(tg, [quiet], 1)
    assert plan_alerts(tg.db, tg.clock()).alerts == 0
    with tg.db.session() as session:
        subscribers.telegram_started(session, quiet.id)
    assert plan_alerts(tg.db, tg.clock()).alerts == 1


def test_a_blocked_chat_is_turned_off_after_its_first_403_and_shown_in_subscribers_list(tg, server, env):
    blocked, fine = add_chats(tg, 2)
    server.fail(blocked.telegram_chat_id, 403, times=None)
    add_matched_papers(tg, [blocked, fine], 3)
    plan_alerts(tg.db, tg.clock())
    report = send_step(tg)
    assert len([c for c in server.calls_to("sendMessage") if c.chat_id == blocked.telegram_chat_id]) == 1
    assert papers_sent(server, fine.telegram_chat_id) == Counter({"a0": 1, "a1": 1, "a2": 1})
    assert report.gone == 1
    with tg.db.session() as session:
        person = subscribers.get_subscriber(session, blocked.id)
    assert person.telegram_state == "off" and "blocked" in person.telegram_reason
    add_matched_papers(tg, [blocked], 1, tag="c")
    assert plan_alerts(tg.db, tg.clock()).alerts == 0  # off: nothing more is planned
    listed = CliRunner().invoke(cli, ["subscribers", "list"], env={**env, "PAPERPOST_SECRET_KEY": "test-secret"})
    assert "telegram off" in listed.output, listed.output


def test_a_429_delays_that_chat_only_and_loses_and_doubles_nothing(tg, server):
    slow, other = add_chats(tg, 2)
    server.fail(slow.telegram_chat_id, 429, retry_after=3)
    add_matched_papers(tg, [slow, other], 3)
    plan_alerts(tg.db, tg.clock())
    send_until_done(tg)
    assert papers_sent(server, slow.telegram_chat_id) == Counter({"a0": 1, "a1": 1, "a2": 1})
    assert papers_sent(server, other.telegram_chat_id) == Counter({"a0": 1, "a1": 1, "a2": 1})
    refused = next(c for c in server.calls_to("sendMessage") if c.chat_id == slow.telegram_chat_id)
    assert all(c.at >= refused.at + 3 for c in server.sent(slow.telegram_chat_id))
    assert any(c.at < refused.at + 3 for c in server.sent(other.telegram_chat_id))  # the others went on
    with tg.db.session() as session:
        assert outbox.backlog(session) == {"sent": 6}


def test_a_400_is_recorded_and_not_retried(tg, server):
    bad, = add_chats(tg, 1)
    server.fail(bad.telegram_chat_id, 400, times=None)
    add_matched_papers(tg, [bad], 1)
    plan_alerts(tg.db, tg.clock())
    send_step(tg)
    send_step(tg)
    assert len(server.calls_to("sendMessage")) == 1
    with tg.db.session() as session:
        row, = outbox.list_outbox(session)
    assert row.state == "failed" and "chat not found" in row.last_error.lower()


def test_a_migrated_chat_is_followed_to_its_new_id(tg, server):
    group, = add_chats(tg, 1)
    server.fail(group.telegram_chat_id, 400, migrate_to=-100777)
    add_matched_papers(tg, [group], 1)
    plan_alerts(tg.db, tg.clock())
    send_step(tg)
    assert papers_sent(server, "-100777") == Counter({"a0": 1})
    with tg.db.session() as session:
        assert subscribers.get_subscriber(session, group.id).telegram_chat_id == "-100777"


def test_a_message_split_in_parts_sends_only_the_parts_not_delivered_when_retried(tg, server):
    reader, = add_chats(tg, 1)
    long_titles = [paper(n, "s", title=f"Reward model calibration, part s{n} " + "x" * 280) for n in range(24)]
    with tg.db.session() as session:
        papers.upsert_papers(session, long_titles, None, tg.clock())
        matches.save_matches(session, [Match(reader.id, p.id, 1.0, ("reward model",), ()) for p in long_titles],
                             tg.clock())
    server.fail(reader.telegram_chat_id, 429, retry_after=1, after=1)  # part 1 goes, part 2 is refused
    plan_alerts(tg.db, tg.clock())
    send_until_done(tg)
    sent = server.sent(reader.telegram_chat_id)
    assert len(sent) >= 3
    seen = Counter()
    for call in sent:
        parsed = check_message(call.params["text"])
        seen.update(re.findall(r"calibration, part (s\d+)", parsed.text))
    assert seen == Counter({f"s{n}": 1 for n in range(24)})
    assert "(continued)" in sent[1].params["text"]


def test_stats_show_the_alert_lag(tg, server, capsys, monkeypatch):
    people = add_chats(tg, 3)
    add_matched_papers(tg, people, 2)
    plan_alerts(tg.db, tg.clock())
    send_step(tg)
    from bot.store import stats

    with tg.db.session() as session:
        lag = stats.alert_lag(session, stats.first_day(now(), 1))
    assert lag.sent == 6 and lag.waiting == 0
    assert 0 <= lag.median_seconds <= lag.max_seconds < 60
    for name, value in tg.config.values.items():  # the same settings for the CLI, as the environment spells them
        monkeypatch.setenv(name, ",".join(value) if isinstance(value, tuple) else str(value))
    from bot.cli import main

    capsys.readouterr()
    main(["stats"])
    shown = capsys.readouterr().out
    assert "6 sent, alert lag (planned to sent) median" in shown, shown


def test_quiet_hours_hold_alerts_then_send_them_as_one_message(env, server):
    from mailworld import Clock

    clock = Clock(datetime(2026, 11, 28, 23, 0, tzinfo=UTC))  # 23:00 UTC: inside 22-7
    app = telegram_app(env, server, clock)
    try:
        sleeper, = add_chats(app, 1)
        with app.db.session() as session:
            subscribers.set_quiet_hours(session, sleeper.id, 22, 7)
        add_matched_papers(app, [sleeper], 2)
        assert plan_alerts(app.db, clock()).held == 1
        clock.advance(hours=3)
        add_matched_papers(app, [sleeper], 1, tag="b")
        held = plan_alerts(app.db, clock())
        assert (held.alerts, held.grouped, held.held) == (0, 0, 0)  # still quiet, held already
        clock.advance(hours=5)  # 07:00: the hours are over
        released = plan_alerts(app.db, clock())
        assert (released.alerts, released.grouped) == (0, 1)
        send_step(app)
        assert len(server.sent(sleeper.telegram_chat_id)) == 1
        assert papers_sent(server, sleeper.telegram_chat_id) == Counter({"a0": 1, "a1": 1, "b0": 1})
        add_matched_papers(app, [sleeper], 1, tag="c")
        assert plan_alerts(app.db, clock()).alerts == 1  # and single alerts again after that
    finally:
        app.close()


def test_daily_mode_sends_one_message_at_the_subscribers_hour(env, server):
    from mailworld import Clock

    clock = Clock(datetime(2026, 11, 28, 6, 0, tzinfo=UTC))
    app = telegram_app(env, server, clock)
    try:
        reader, = add_chats(app, 1)
        with app.db.session() as session:
            subscribers.set_telegram_mode(session, reader.id, "daily")  # at hour 7 UTC, the default
        add_matched_papers(app, [reader], 3)
        assert plan_alerts(app.db, clock()) == type(plan_alerts(app.db, clock()))()
        clock.advance(hours=1)
        assert plan_alerts(app.db, clock()).daily == 1
        assert plan_alerts(app.db, clock()).daily == 0  # once a day
        send_step(app)
        sent, = server.sent(reader.telegram_chat_id)
        assert "Your papers of the day: 3" in sent.params["text"]
    finally:
        app.close()
