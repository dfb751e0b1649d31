"""What a command answers (pure data): messages to send, a message to edit, a button press to acknowledge."""

from __future__ import annotations

from dataclasses import dataclass

# A button: (text, callback data) or (text, "https://..." URL); callback data never starts with http.
ButtonRow = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Reply:
    chat_id: str
    html: str
    buttons: tuple[ButtonRow, ...] = ()


@dataclass(frozen=True)
class Edit:
    chat_id: str
    message_id: int
    html: str
    buttons: tuple[ButtonRow, ...] = ()


@dataclass(frozen=True)
class Answer:
    """Acknowledge a button press (the spinner stops), with a short note."""

    callback_id: str
    text: str = ""


Action = Reply | Edit | Answer
