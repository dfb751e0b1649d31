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
