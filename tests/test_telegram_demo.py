"""`paperpost demo` writes the Telegram messages it would send as .txt files next to the .eml files, for the seed
subscribers with a chat id; each part is valid Telegram HTML under the limit; a second run writes nothing new."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from telegram_html import check_message


def demo(env):  # type: ignore[no-untyped-def]
    return subprocess.run([sys.executable, "-m", "bot", "demo"], env={**__import__("os").environ, **env},
                          capture_output=True, text=True, timeout=300)


def test_the_demo_writes_telegram_messages_for_the_seed_chats(env):
    first = demo(env)
    assert first.returncode == 0, first.stderr
    outbox = Path(env["PAPERPOST_DATA"]) / "outbox"
    texts = sorted(outbox.glob("*.txt"))
    assert {re.sub(r"^\d+-", "", p.name) for p in texts} == {"alert-tg_100200301.txt", "alert-tg_100200303.txt"}
    for path in texts:
        parts = re.split(r"^--- message \d+ of \d+ to chat \d+ \(parse_mode HTML\)\n", path.read_text(), flags=re.M)[1:]
        assert parts
        for part in parts:
            check_message(part.split("\n--- buttons\n")[0].rstrip("\n"))
    assert "telegram: 2 messages written" in first.stdout
    second = demo(env)
    assert second.returncode == 0 and sorted(outbox.glob("*.txt")) == texts
    assert "nothing new to send" in second.stdout
