"""The database tables (SQLAlchemy 2 declarative). Migrations in bot/migrations mirror this file."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import JSON, Boolean, false, DateTime, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite keeps no zone: store naive UTC)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use timezone-aware UTC")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=timezone.utc)


class Base(DeclarativeBase):
    pass


class SourceRow(Base):
    __tablename__ = "sources"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    url: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    interval: Mapped[int | None] = mapped_column(Integer, nullable=True)
    etag: Mapped[str | None] = mapped_column(Text, nullable=True)
    last_modified: Mapped[str | None] = mapped_column(Text, nullable=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_polled: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    moved_to: Mapped[str | None] = mapped_column(Text, nullable=True)  # a permanent redirect not yet accepted


class PaperRow(Base):
    __tablename__ = "papers"

    id: Mapped[str] = mapped_column(String(300), primary_key=True)
    title: Mapped[str] = mapped_column(Text)
    abstract: Mapped[str] = mapped_column(Text, default="")
    authors: Mapped[list[str]] = mapped_column(JSON, default=list)
    categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    primary_category: Mapped[str | None] = mapped_column(String(50), nullable=True)
    published: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    updated: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    links: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    upvotes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    announce_type: Mapped[str | None] = mapped_column(String(20), nullable=True)
    doi: Mapped[str | None] = mapped_column(Text, nullable=True)
    journal_ref: Mapped[str | None] = mapped_column(Text, nullable=True)
    thumbnail: Mapped[str | None] = mapped_column(Text, nullable=True)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime)
    matched_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)  # null: not yet run through the index


class PaperSourceRow(Base):
    __tablename__ = "paper_sources"

    paper_id: Mapped[str] = mapped_column(ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), primary_key=True)


class SubscriberRow(Base):
    __tablename__ = "subscribers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str | None] = mapped_column(String(320), unique=True, nullable=True)  # a person has an email,
    telegram_chat_id: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)  # a chat, or both
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending, active, paused, unsubscribed
    # Each channel on or off on its own, with the reason it went off (a bouncing address stops email only).
    email_state: Mapped[str] = mapped_column(String(20), default="on", server_default="on")  # on, off
    email_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    telegram_state: Mapped[str] = mapped_column(String(20), default="on", server_default="on")  # on, off
    telegram_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Bound into every signed link; a new secret (data deleted) ends every link minted before.
    token_secret: Mapped[str | None] = mapped_column(String(64), nullable=True)
    frequency: Mapped[str] = mapped_column(String(10), default="daily")  # daily, weekly
    weekday: Mapped[int] = mapped_column(Integer, default=0)  # weekly digests: 0 = Monday
    hour: Mapped[int] = mapped_column(Integer, default=7)
    tz: Mapped[str] = mapped_column(String(64), default="UTC")
    send_empty: Mapped[bool] = mapped_column(Boolean, default=False)  # "nothing today" mails
    bounces: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    confirm_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    profile_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    matched_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)  # profile last run over recent papers
    telegram_code: Mapped[str | None] = mapped_column(String(64), nullable=True)  # sha256 of a one-time link code
    telegram_code_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Telegram: an alert per paper (instant) or one message at `hour` (daily); optional quiet hours (local, start
    # inclusive, end exclusive) during which alerts are held, then sent as one message.
    telegram_mode: Mapped[str] = mapped_column(String(10), default="instant", server_default="instant")
    quiet_start: Mapped[int | None] = mapped_column(Integer, nullable=True)
    quiet_end: Mapped[int | None] = mapped_column(Integer, nullable=True)
    telegram_held: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())  # alerts held
    # The chat wrote to the bot (/start): a chat an operator added is sent nothing until it does.
    telegram_started: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Matches with a lower id were found before the chat was linked: they are not alerted (they went by email).
    telegram_from_match: Mapped[int | None] = mapped_column(Integer, nullable=True)

    interests: Mapped[list["InterestRow"]] = relationship(
        order_by="InterestRow.position", cascade="all, delete-orphan", lazy="selectin"
    )


class InterestRow(Base):
    __tablename__ = "interests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)


LEARNED_OR_SUGGESTED = "learned IS NOT NULL OR suggested_from IS NOT NULL"


class MatchRow(Base):
    __tablename__ = "matches"
    __table_args__ = (
        UniqueConstraint("subscriber_id", "paper_id"),
        # Only the old links (0007): new matches leave outbox_id NULL and need no entry; deleting a message finds its rows.
        Index("ix_matches_outbox_id", "outbox_id", sqlite_where=text("outbox_id IS NOT NULL"),
              postgresql_where=text("outbox_id IS NOT NULL")),
        # The few matches a reader's model scored or suggested (0007): the learn step finds them without a scan.
        Index("ix_matches_learned", "subscriber_id", sqlite_where=text(LEARNED_OR_SUGGESTED),
              postgresql_where=text(LEARNED_OR_SUGGESTED)),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    paper_id: Mapped[str] = mapped_column(ForeignKey("papers.id", ondelete="CASCADE"), index=True)
    score: Mapped[float] = mapped_column(Float)  # relevance (whole units) + popularity at match time (below one)
    interests: Mapped[list[str]] = mapped_column(JSON)  # the interest lines that matched, as written
    # [term, field, start, end]: written by releases before 0003 only; now found at render time (bot/digest/evidence.py).
    hits: Mapped[list[list[Any]] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Superseded by match_deliveries (a match can travel on several channels); kept one release for a safe upgrade.
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id", ondelete="SET NULL"), nullable=True)
    learned: Mapped[float | None] = mapped_column(Float, nullable=True)  # the reader's model score (votes), if any
    # Set on a match no interest made ("You may also like"): the liked paper it is nearest to.
    suggested_from: Mapped[str | None] = mapped_column(String(300), nullable=True)


class VoteRow(Base):
    """A reader's vote on a paper: +1 "more like this", -1 "not for me" (one per pair; changed in place)."""

    __tablename__ = "votes"

    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"), primary_key=True)
    paper_id: Mapped[str] = mapped_column(ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True, index=True)
    value: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class MatchDeliveryRow(Base):
    """Which message carries a match on a channel: at most one per (match, channel)."""

    __tablename__ = "match_deliveries"

    match_id: Mapped[int] = mapped_column(ForeignKey("matches.id", ondelete="CASCADE"), primary_key=True)
    channel: Mapped[str] = mapped_column(String(20), primary_key=True)
    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox.id", ondelete="CASCADE"), index=True)


class OutboxRow(Base):
    """One message to deliver. (subscriber, channel, kind, period) is the idempotency key."""

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("subscriber_id", "channel", "kind", "period", name="uq_outbox_key"),
        Index("ix_outbox_state", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(20))  # email, telegram
    kind: Mapped[str] = mapped_column(String(20))  # digest, confirm, alert
    period: Mapped[str] = mapped_column(String(40))  # 2026-11-28, 2026-W48, or a timestamp for one-off mails
    state: Mapped[str] = mapped_column(String(20), default="queued")  # queued, sending, sent, failed, dropped
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    owner_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)  # workers.id of the claimer
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    subject: Mapped[str | None] = mapped_column(Text, nullable=True)


class WorkerHeartbeatRow(Base):
    """One row per worker job, touched when it starts and ends: /healthz tells a stuck worker from a busy one."""

    __tablename__ = "worker_heartbeats"

    job: Mapped[str] = mapped_column(String(40), primary_key=True)  # poll, plan, send
    interval: Mapped[int] = mapped_column(Integer)  # seconds between runs: how late is too late
    running: Mapped[bool] = mapped_column(Boolean, default=False)
    pid: Mapped[int | None] = mapped_column(Integer, nullable=True)
    host: Mapped[str | None] = mapped_column(String(255), nullable=True)
    last_started: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_finished: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)


class WorkerRow(Base):
    """One row per process that claims work (a worker, `paperpost digest`); its liveness is a lock, not this row."""

    __tablename__ = "workers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    roles: Mapped[str] = mapped_column(String(100))  # comma-separated: poll, plan, send (planner: holds the planner lock)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)  # null: not known dead


class PacingRow(Base):
    """A send rate shared by every sender process on the database: the next free slot per channel."""

    __tablename__ = "pacing"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)  # e.g. "email", "telegram", "telegram:CHAT"
    next_slot: Mapped[datetime] = mapped_column(UTCDateTime)


class RateHitRow(Base):
    """Sign-up rate limits shared by every web process: hits per key in fixed windows."""

    __tablename__ = "rate_hits"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


class PaperTombstoneRow(Base):
    """The id of a pruned paper: a later version of it is known, never new (no alert months later)."""

    __tablename__ = "paper_tombstones"

    id: Mapped[str] = mapped_column(String(300), primary_key=True)
    pruned_at: Mapped[datetime] = mapped_column(UTCDateTime)


class BotStateRow(Base):
    """Small named values the bot keeps between processes (e.g. the last Telegram update handled)."""

    __tablename__ = "bot_state"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)  # e.g. "telegram.update_id"
    value: Mapped[str] = mapped_column(Text)


class TelegramSentPaperRow(Base):
    """The papers of a Telegram message already delivered, part by part: a retry sends only the rest."""

    __tablename__ = "telegram_sent_papers"

    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox.id", ondelete="CASCADE"), primary_key=True)
    paper_id: Mapped[str] = mapped_column(String(300), primary_key=True)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime)
