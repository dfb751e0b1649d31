"""The Telegram sender of the offline demo: each message written as a .txt file in the outbox folder, next to the
.eml files (its parts as Telegram would get them: HTML parse-mode text, then the buttons)."""

from __future__ import annotations

import os
from pathlib import Path

from bot.channels.outcomes import SENT, Outcome, unavailable
from bot.channels.telegram.message import TelegramMessage


class FolderSender:
    """Writes `NNNNNN-kind-tg_CHAT.txt`; a retry of the same outbox row rewrites the same file."""

    def __init__(self, folder: Path):
        self.folder = folder

    @property
    def parallelism(self) -> int:
        return 1

    def path_for(self, message: TelegramMessage) -> Path:
        return self.folder / f"{message.outbox_id:06d}-{message.kind}-tg_{message.chat_id.lstrip('-')}.txt"

    def send(self, message: TelegramMessage) -> Outcome:
        blocks = []
        for n, part in enumerate(message.parts, 1):
            buttons = "\n".join(" | ".join(f"[{b.text}] {b.url or 'press: ' + b.callback}" for b in row)
                                for row in part.buttons)
            head = f"--- message {n} of {len(message.parts)} to chat {message.chat_id} (parse_mode HTML)"
            blocks.append(f"{head}\n{part.html}\n" + (f"--- buttons\n{buttons}\n" if buttons else ""))
        path = self.path_for(message)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            temporary = path.with_name(path.name + ".tmp")
            temporary.write_text("\n".join(blocks), encoding="utf-8")
            os.replace(temporary, path)
        except OSError as exc:
            return unavailable(f"telegram folder {path}: {exc.strerror or exc}")
        return SENT

    def close(self) -> None:
        pass
