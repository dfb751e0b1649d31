"""The default sender without SMTP: one .eml per message (plus an .html preview) in the outbox folder."""

from __future__ import annotations

import os
import re
from pathlib import Path

from bot.channels.email.mime import Envelope
from bot.channels.email.outcome_table import email_outcome
from bot.channels.outcomes import SENT, Outcome


class FolderMailer:
    """Writes `NNNNNN-kind-address.eml`; a retry of the same outbox row rewrites the same file."""

    def __init__(self, folder: Path):
        self.folder = folder

    def path_for(self, envelope: Envelope) -> Path:
        safe = re.sub(r"[^A-Za-z0-9@._-]", "_", envelope.recipient)
        return self.folder / f"{envelope.outbox_id:06d}-{envelope.kind}-{safe}.eml"

    @property
    def parallelism(self) -> int:
        return 1

    def send(self, envelope: Envelope) -> Outcome:
        path = self.path_for(envelope)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            _write_atomically(path.with_suffix(".html"), envelope.html.encode("utf-8"))
            _write_atomically(path, envelope.data)
        except OSError as exc:  # a full disk or a read-only folder fails every message alike: stop
            return email_outcome("folder", detail=f"{path}: {exc.strerror or exc}")
        return SENT

    def close(self) -> None:
        pass


def _write_atomically(path: Path, data: bytes) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)
