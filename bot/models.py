"""Data that crosses module boundaries: frozen dataclasses, no behaviour, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

Field = Literal["title", "abstract", "authors", "categories", "trending", "like"]


@dataclass(frozen=True)
class Paper:
    """One paper as a source reports it, normalised.

    `id` is canonical: `arxiv:2401.12345` / `arxiv:hep-th/9901001` (never a
    version), or a stable id derived from a feed's guid or link for non-arXiv
    feeds. `links` maps kinds (`abs`, `pdf`, `hf`, `doi`) to URLs.
    """

    id: str
    title: str
    abstract: str = ""
    authors: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    primary_category: str | None = None
    published: datetime | None = None  # UTC, first version / announcement
    updated: datetime | None = None  # UTC, this version
    version: int | None = None
    links: dict[str, str] = field(default_factory=dict, hash=False, compare=False)
    upvotes: int | None = None
    announce_type: str | None = None  # arXiv feeds: new, cross, replace, replace-cross
    doi: str | None = None
    journal_ref: str | None = None
    thumbnail: str | None = None


@dataclass(frozen=True)
class ParseResult:
    """What a parser got out of one body: the papers that parsed, and whether that is all of it."""

    papers: list[Paper]
    error: str | None = None  # set when part (or all) of the body could not be parsed
    complete: bool = True  # False: never treat this as the full listing


@dataclass(frozen=True)
class Hit:
    """One matched term in one field of a paper; `start`/`end` index the displayed text."""

    term: str
    field: Field
    start: int = 0
    end: int = 0


@dataclass(frozen=True)
class Match:
    """Why one paper matched one subscriber: the interests that matched and their hits.

    `learned` is the reader's model score (from their votes; None without votes). A match with
    `suggested_from` set was made by no interest: the model suggests it ("You may also like"),
    nearest to that liked paper; its `interests` are empty.
    """

    subscriber_id: int
    paper_id: str
    score: float
    interests: tuple[str, ...]
    hits: tuple[Hit, ...]
    learned: float | None = None
    suggested_from: str | None = None

    @property
    def suggested(self) -> bool:
        return self.suggested_from is not None


@dataclass(frozen=True)
class Subscriber:
    """A person as the pipeline and the pages see them: an email, a Telegram chat, or both.

    `status` is the subscription (pending, active, paused, unsubscribed); each channel is
    also on or off on its own (`email_state`, `telegram_state`), with the reason it went off.
    """

    id: int
    email: str | None
    status: str  # pending, active, paused, unsubscribed
    interests: tuple[str, ...]
    frequency: str = "daily"  # daily, weekly
    hour: int = 7
    tz: str = "UTC"
    weekday: int = 0  # weekly digests: 0 = Monday
    telegram_chat_id: str | None = None
    send_empty: bool = False
    email_state: str = "on"  # on, off
    email_reason: str | None = None
    telegram_state: str = "on"  # on, off
    telegram_reason: str | None = None
    token_secret: str = ""  # bound into signed links; replaced when the person's data is deleted
    telegram_mode: str = "instant"  # instant: an alert per paper; daily: one Telegram message at `hour`
    quiet_start: int | None = None  # local hours during which Telegram alerts are held (start inclusive,
    quiet_end: int | None = None  # end exclusive; None: no quiet hours)
    telegram_started: bool = False  # the chat wrote /start: an operator-added chat is sent nothing before

    @property
    def label(self) -> str:
        """How commands and logs name this person: the email, else `tg:CHAT_ID`."""
        return self.email or (f"tg:{self.telegram_chat_id}" if self.telegram_chat_id else f"#{self.id}")

    @property
    def email_on(self) -> bool:
        return self.email is not None and self.email_state == "on"

    @property
    def telegram_on(self) -> bool:
        return self.telegram_chat_id is not None and self.telegram_state == "on"


@dataclass(frozen=True)
class SubscriberInput:
    """What an operator or a form gives to create or update a subscriber (an email, a chat, or both)."""

    email: str | None
    interests: tuple[str, ...]
    frequency: str = "daily"
    hour: int = 7
    tz: str = "UTC"
    weekday: int = 0
    telegram_chat_id: str | None = None
