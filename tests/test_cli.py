"""The command line as a user runs it: the demo twice, list commands as JSON, errors as one sentence."""

from __future__ import annotations

import email
import json
import os
import subprocess
import sys
from email import policy
from pathlib import Path

import pytest


def paperpost(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot", *args], env={**os.environ, **env},
                          capture_output=True, text=True, timeout=120)


class Ran:
    def __init__(self, returncode: int, stdout: str, stderr: str):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def in_process(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch | None = None):  # type: ignore[no-untyped-def]
    """`paperpost ARGS` through the command's own main() in this process: exit code, stdout, stderr."""
    from bot.cli import main

    def run(env: dict[str, str], *args: str) -> Ran:
        if monkeypatch is not None:
            for name, value in env.items():
                monkeypatch.setenv(name, value)
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        out, err = capsys.readouterr()
        return Ran(code, out, err)
    return run


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_demo_writes_one_digest_per_matching_subscriber_and_nothing_the_second_time(env):
    first = paperpost(env, "demo")
    assert first.returncode == 0, first.stderr
    outbox = Path(env["PAPERPOST_DATA"]) / "outbox"
    emls = sorted(outbox.glob("*.eml"))
    people = json_lines(paperpost(env, "subscribers", "list", "--json").stdout)
    assert len(people) >= 5
    recipients = set()
    for path in emls:
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        assert message.get_content_type() == "multipart/alternative"
        assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
        html = message.get_body(("html",)).get_content()
        assert 'class="paper" style="' in html  # styles inlined
        if message["To"] != "dana@example.org":  # the trending list has no words to highlight
            assert "<mark" in html
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert path.with_suffix(".html").exists()
        recipients.add(message["To"])
        # bo liked three seed papers (seeds/subscribers.toml): his digest ends with papers no interest found.
        assert ("You may also like" in html) == (message["To"] == "bo@example.org")
    # Everyone but the subscriber whose interests match nothing in the seeds gets exactly one digest.
    assert len(emls) == len(recipients) == len(people) - 1
    assert "eve@example.org" not in recipients
    assert str(outbox) in first.stdout

    second = paperpost(env, "demo")
    assert second.returncode == 0, second.stderr
    assert sorted(outbox.glob("*.eml")) == emls
    assert "nothing new to send" in second.stdout


def test_papers_and_search_json_rows(env):
    assert paperpost(env, "demo").returncode == 0
    rows = json_lines(paperpost(env, "papers", "--json").stdout)
    assert len(rows) == 57
    for key in ("id", "title", "authors", "categories", "published", "links", "version", "upvotes", "sources"):
        assert key in rows[0]
    found = json_lines(paperpost(env, "search", '"reward model"', "--json").stdout)
    assert found and all("reward model" in (r["title"] + " ".join(m["term"] for m in r["matched"])).lower() for r in found)
    assert [r["score"] for r in found] == sorted((r["score"] for r in found), reverse=True)


@pytest.mark.parametrize("args, words", [
    (("search", '"unclosed'), "quote"),
    (("subscribers", "remove", "nobody@example.org"), "No subscriber"),
    (("subscribers", "add", "not-an-address", "--interests", "x"), "email"),
    (("subscribers", "import", "/no/such/file.csv"), "Cannot read"),
    (("papers", "--since", "yesterday"), "YYYY-MM-DD"),
])
def test_errors_are_one_sentence_on_stderr_with_exit_code_1(env, args, words):
    result = paperpost(env, *args)
    assert result.returncode == 1
    assert words in result.stderr
    assert "Traceback" not in result.stderr


def test_a_public_base_url_without_a_secret_key_fails_loudly(env):
    result = paperpost({**env, "PAPERPOST_BASE_URL": "https://papers.example.org"}, "demo")
    assert result.returncode == 1 and "PAPERPOST_SECRET_KEY" in result.stderr


def test_subscribers_add_then_import_is_idempotent(env, tmp_path):
    csv = tmp_path / "people.csv"
    csv.write_text("email,interests\nada@example.org,reward model\nbad,x\n")
    first = paperpost(env, "subscribers", "import", str(csv))
    assert first.returncode == 1 and ":3:" in first.stderr  # the bad row, by line
    second = paperpost(env, "subscribers", "import", str(csv))
    assert "0 added, 0 updated, 1 unchanged" in second.stdout
    people = json_lines(paperpost(env, "subscribers", "list", "--json").stdout)
    assert [(p["email"], p["status"], p["interests"]) for p in people] == [("ada@example.org", "active", ["reward model"])]


def test_commands_name_a_person_by_email_chat_or_id(env, capsys):
    paperpost = in_process(capsys)  # the same main() as the command, without a process start per call
    assert paperpost(env, "subscribers", "add", "Ada@example.org", "--interests", "x", "--telegram", "111").returncode == 0
    chat_only = paperpost(env, "subscribers", "add", "tg:222", "--interests", "reward model")
    assert chat_only.returncode == 0 and "created tg:222" in chat_only.stdout and "telegram on" in chat_only.stdout
    by_chat = paperpost(env, "subscribers", "add", "tg:111", "--interests", "y")  # ada, found by her chat
    assert by_chat.returncode == 0 and "updated ada@example.org" in by_chat.stdout
    taken = paperpost(env, "subscribers", "add", "cy@example.org", "--interests", "x", "--telegram", "111")
    assert taken.returncode == 1 and "already belongs to ada@example.org" in taken.stderr and "Traceback" not in taken.stderr
    for bad, words in [("tg:abc", "a chat id is a number"), ("#1", "takes an email or tg:CHAT_ID")]:
        refused = paperpost(env, "subscribers", "add", bad, "--interests", "x")
        assert refused.returncode == 1 and words in refused.stderr, bad
    neither = paperpost(env, "subscribers", "add", "", "--interests", "x")
    assert neither.returncode == 1 and "give an email address or a Telegram chat id" in neither.stderr
    people = json_lines(paperpost(env, "subscribers", "list", "--json").stdout)
    assert [(p["email"], p["telegram"], p["interests"], p["email_state"], p["telegram_state"]) for p in people] == [
        ("ada@example.org", "111", ["y"], "on", "on"), (None, "222", ["reward model"], "on", "on")]
    table = paperpost(env, "subscribers", "list").stdout
    assert "email on, telegram on" in table and "222" in table
    for identifier, words in [("nobody", "does not name a subscriber"), ("tg:999", "No subscriber tg:999"),
                              ("#999", "No subscriber #999")]:
        missing = paperpost(env, "subscribers", "remove", identifier)
        assert missing.returncode == 1 and words in missing.stderr, identifier
    assert "removed tg:222" in paperpost(env, "subscribers", "remove", "tg:222").stdout
    assert "removed ada@example.org" in paperpost(env, "subscribers", "remove", f"#{people[0]['id']}").stdout
    assert json_lines(paperpost(env, "subscribers", "list", "--json").stdout) == []


def test_a_chat_only_person_added_by_the_cli_never_gets_email(env):
    added = paperpost(env, "subscribers", "add", "tg:4242", "--interests", '"reward model"')  # matches the seeds
    assert added.returncode == 0, added.stderr
    assert paperpost(env, "demo").returncode == 0
    assert paperpost(env, "digest", "--now").returncode == 0
    people = json_lines(paperpost(env, "subscribers", "list", "--json").stdout)
    rows = json_lines(paperpost(env, "outbox", "--json").stdout)
    assert rows and all(row["email"] for row in rows)  # every digest went to someone with an address
    recipients = {email.message_from_bytes(p.read_bytes(), policy=policy.default)["To"]
                  for p in (Path(env["PAPERPOST_DATA"]) / "outbox").glob("*.eml")}
    assert "ada@example.org" in recipients and len(recipients) == len(people) - 2  # eve matches nothing; 4242 has no address
    assert [p["email"] for p in people if p["telegram"] == "4242"] == [None]


def test_export_then_import_carries_the_chats(env, tmp_path, capsys, monkeypatch):
    paperpost = in_process(capsys, monkeypatch)
    source = tmp_path / "people.toml"
    source.write_text('[[subscriber]]\nemail = "ada@example.org"\ninterests = ["x"]\ntelegram = 111\n\n'
                      '[[subscriber]]\ntelegram = "-222"\ninterests = ["reward model", "ti:robot"]\nhour = 9\n\n'
                      '[[subscriber]]\nemail = "bo@example.org"\ninterests = ["y"]\n')
    assert paperpost(env, "subscribers", "import", str(source)).returncode == 0
    exported = paperpost(env, "subscribers", "export").stdout
    assert "telegram" in exported.splitlines()[0]
    csv_file = tmp_path / "exported.csv"
    csv_file.write_text(exported)
    fresh = {**env, "PAPERPOST_DATA": str(tmp_path / "fresh")}
    back = paperpost(fresh, "subscribers", "import", str(csv_file))
    assert back.returncode == 0 and "3 added" in back.stdout, back.stderr
    assert paperpost(fresh, "subscribers", "export").stdout == exported
    fields = ("email", "telegram", "interests", "hour")
    assert [tuple(p[f] for f in fields) for p in json_lines(paperpost(fresh, "subscribers", "list", "--json").stdout)] == [
        ("ada@example.org", "111", ["x"], 7), (None, "-222", ["reward model", "ti:robot"], 9), ("bo@example.org", None, ["y"], 7)]
    # A chat that is already someone else's is a per-line error; the other lines are saved.
    clash = tmp_path / "clash.csv"
    clash.write_text("email,interests,telegram\ncy@example.org,z,111\ndee@example.org,z,\n,z,333\n")
    result = paperpost(fresh, "subscribers", "import", str(clash))
    assert result.returncode == 1 and f"{clash}:2: Telegram chat 111 already belongs to ada@example.org" in result.stderr
    assert "Traceback" not in result.stderr and "2 added" in result.stdout and "1 rejected" in result.stdout
