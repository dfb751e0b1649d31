"""`subscribers import`: our TOML format and CSV; bad rows reported by line, good rows kept, re-import idempotent."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.errors import ImportFileError
from subscribers.importer import read_subscribers_file

REPO = Path(__file__).resolve().parent.parent


def test_the_sample_subscribers_file_is_valid():
    rows, errors = read_subscribers_file(REPO / "seeds" / "subscribers.toml")
    assert errors == []
    assert len(rows) >= 5
    emails = [r.subscriber.email for r in rows]
    assert len(set(emails)) == len(emails)
    assert any(r.subscriber.interests == ("is:trending",) for r in rows)
    farid = next(r.subscriber for r in rows if r.subscriber.email == "farid@example.org")
    assert (farid.frequency, farid.weekday, farid.tz) == ("weekly", 4, "Asia/Kolkata")


def test_csv_with_optional_columns_multiline_and_semicolon_interests(tmp_path):
    path = tmp_path / "people.csv"
    path.write_text(
        "email,interests,frequency,hour,tz,telegram\n"
        'ada@example.org,"reward model ; RLHF",daily,9,Europe/London,\n'
        'bo@example.org,"""fine-tuning""\nau:hinton",weekly,,,12345\n'
        "not-an-address,x,,,,\n"
        'cy@example.org,"(unclosed",daily,7,UTC,\n'
        "dee@example.org,ok,hourly,25,Mars/Base,abc\n",
        encoding="utf-8",
    )
    rows, errors = read_subscribers_file(path)
    assert [(r.line, r.subscriber.email, r.subscriber.interests) for r in rows] == [
        (2, "ada@example.org", ("reward model", "RLHF")),
        (3, "bo@example.org", ('"fine-tuning"', "au:hinton")),
    ]
    assert rows[1].subscriber.telegram_chat_id == "12345" and rows[1].subscriber.frequency == "weekly"
    by_line = {e.line: e.message for e in errors}
    assert set(by_line) == {5, 6, 7}
    assert "email" in by_line[5]
    assert "interests" in by_line[6] and "column" in by_line[6]
    for field in ("frequency", "hour", "tz", "telegram"):
        assert field in by_line[7]


def test_a_file_without_the_needed_columns_is_refused_whole(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("mail,topics\na@b.org,x\n")
    with pytest.raises(ImportFileError, match="email,interests"):
        read_subscribers_file(path)


def test_duplicate_addresses_in_one_file_are_reported(tmp_path):
    path = tmp_path / "dup.csv"
    path.write_text("email,interests\na@example.org,x\nA@example.org,y\n")
    rows, errors = read_subscribers_file(path)
    assert len(rows) == 1 and errors[0].line == 3 and "line 2" in errors[0].message


def test_chat_only_rows_and_repeated_chats(tmp_path):
    path = tmp_path / "chats.csv"
    path.write_text("email,interests,telegram\n,reward model,111\nada@example.org,x,111\n,x,\nbo@example.org,x,-222\n")
    rows, errors = read_subscribers_file(path)
    assert [(r.line, r.subscriber.email, r.subscriber.telegram_chat_id) for r in rows] == [
        (2, None, "111"), (5, "bo@example.org", "-222")]
    assert [(e.line, e.message) for e in errors] == [
        (3, "telegram 111 already given on line 2"),
        (4, "email: give an email address or a Telegram chat id (or both)")]
    toml = tmp_path / "chats.toml"
    toml.write_text('[[subscriber]]\ntelegram = 333\ninterests = ["x"]\n\n[[subscriber]]\ninterests = ["y"]\n')
    rows, errors = read_subscribers_file(toml)
    assert [(r.subscriber.email, r.subscriber.telegram_chat_id) for r in rows] == [(None, "333")]
    assert [e.line for e in errors] == [5] and "Telegram chat" in errors[0].message


def test_a_csv_of_chats_only_needs_no_email_column(tmp_path):
    path = tmp_path / "chats.csv"
    path.write_text("telegram,interests\n444,x\n")
    rows, errors = read_subscribers_file(path)
    assert errors == [] and rows[0].subscriber.telegram_chat_id == "444" and rows[0].subscriber.email is None
