"""The default sender without SMTP: one .eml per message (plus an .html preview) in the outbox folder."""

from __future__ import annotations

import os
import re
from pathlib import Path

from bot.channels.email.mime import Envelope
from bot.errors import DeliveryError


class FolderMailer:
    """Writes `NNNNNN-kind-address.eml`; a retry of the same outbox row rewrites the same file."""

    def __init__(self, folder: Path):
        self.folder = folder

    def path_for(self, envelope: Envelope) -> Path:
        safe = re.sub(r"[^A-Za-z0-9@._-]", "_", envelope.recipient)
        return self.folder / f"{envelope.outbox_id:06d}-{envelope.kind}-{safe}.eml"

    def send(self, envelope: Envelope) -> None:
        path = self.path_for(envelope)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            _write_atomically(path.with_suffix(".html"), envelope.html.encode("utf-8"))
            _write_atomically(path, envelope.data)
        except OSError as exc:
            raise DeliveryError(f"cannot write {path} ({exc.strerror})") from exc

    def close(self) -> None:
        pass


def _write_atomically(path: Path, data: bytes) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)
