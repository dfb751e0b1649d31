"""What `paperpost stats` shows: counts over subscribers, papers, messages, the backlog and live workers."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.store import workers
from bot.store.schema import OutboxRow, PaperRow, PaperSourceRow, SourceRow, SubscriberRow
from bot.store.workers import WorkerInfo

STATUSES = ("pending", "active", "paused", "unsubscribed")
CHANNEL_STATES = ("on", "off")
# A worker beats every 10 s while it lives (bot.jobs.watch.BEAT_EVERY); one silent for two minutes is not
# shown as live. The lock test is the real answer and the worker's business; stats only reads the table.
LIVE_WITHIN = timedelta(minutes=2)


@dataclass(frozen=True)
class ChannelCount:
    channel: str  # email, telegram
    state: str  # on, off
    count: int


@dataclass(frozen=True)
class PaperDay:
    day: date
    source: str | None  # None: papers stored with no source (e.g. added by hand)
    count: int


@dataclass(frozen=True)
class MessageDay:
    day: date  # sent: the day it was sent; failed and dropped: the day it was queued
    channel: str
    sent: int
    failed: int
    dropped: int


@dataclass(frozen=True)
class BacklogCount:
    state: str  # queued, sending, retrying (failed, with a next attempt)
    channel: str
    count: int
    oldest: datetime  # created_at of the oldest row waiting


@dataclass(frozen=True)
class AlertLag:
    """Telegram alerts: how long they took from being planned (right after the poll that found them) to Telegram."""

    sent: int  # alerts sent in the window
    median_seconds: float | None
    max_seconds: float | None
    waiting: int  # alerts planned and not sent yet (queued, sending, or waiting for a retry)
    oldest_waiting: datetime | None


@dataclass(frozen=True)
class Stats:
    since: datetime  # the first day counted (UTC midnight)
    subscribers: dict[str, int]  # status -> count
    channels: list[ChannelCount]
    papers: list[PaperDay]
    messages: list[MessageDay]
    backlog: list[BacklogCount]
    workers: list[WorkerInfo]
    alerts: AlertLag = AlertLag(0, None, None, 0, None)


def first_day(now: datetime, days: int) -> datetime:
    """UTC midnight of the first of the last `days` days (today included)."""
    if days < 1:
        raise ValueError("days must be at least 1")
    start = now.astimezone(timezone.utc).date() - timedelta(days=days - 1)
    return datetime.combine(start, time(0), tzinfo=timezone.utc)


def collect(session: Session, now: datetime, days: int = 7) -> Stats:
    """Every section of `paperpost stats`, days counted back from today (UTC)."""
    since = first_day(now, days)
    return Stats(since, subscribers_by_status(session), subscribers_by_channel(session), papers_per_day(session, since),
                 messages_per_day(session, since), backlog(session), live_workers(session, now), alert_lag(session, since))


def subscribers_by_status(session: Session) -> dict[str, int]:
    """Subscribers per status; every known status is listed, with 0 when none has it."""
    counts = dict.fromkeys(STATUSES, 0)
    for status, count in session.execute(select(SubscriberRow.status, func.count()).group_by(SubscriberRow.status)):
        counts[status] = count
    return counts


def subscribers_by_channel(session: Session) -> list[ChannelCount]:
    """Of the subscribers who have not left: who has an address on each channel, by that channel's state."""
    staying = SubscriberRow.status != "unsubscribed"
    counts = {(channel, state): 0 for channel in ("email", "telegram") for state in CHANNEL_STATES}
    for channel, address, state in (("email", SubscriberRow.email, SubscriberRow.email_state),
                                    ("telegram", SubscriberRow.telegram_chat_id, SubscriberRow.telegram_state)):
        rows = session.execute(select(state, func.count()).where(staying, address.is_not(None)).group_by(state))
        for value, count in rows:
            counts[(channel, value)] = count
    return [ChannelCount(channel, state, count) for (channel, state), count in counts.items()]


def _day(value: object) -> date:
    # SQLite's date() gives text, PostgreSQL's a date.
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def papers_per_day(session: Session, since: datetime) -> list[PaperDay]:
    """Papers first seen per day per source (a paper two sources brought counts once for each)."""
    day = func.date(PaperRow.first_seen)
    rows = session.execute(
        select(day, SourceRow.name, func.count(PaperRow.id))
        .select_from(PaperRow)
        .outerjoin(PaperSourceRow, PaperSourceRow.paper_id == PaperRow.id)
        .outerjoin(SourceRow, SourceRow.id == PaperSourceRow.source_id)
        .where(PaperRow.first_seen >= since)
        .group_by(day, SourceRow.name))
    found = [PaperDay(_day(d), name, count) for d, name, count in rows]
    return sorted(found, key=lambda p: (p.day, p.source or ""))


def messages_per_day(session: Session, since: datetime) -> list[MessageDay]:
    """Messages sent, failed and dropped per day and channel."""
    counts: dict[tuple[date, str], dict[str, int]] = defaultdict(lambda: {"sent": 0, "failed": 0, "dropped": 0})
    sent_day = func.date(OutboxRow.sent_at)
    for d, channel, count in session.execute(
            select(sent_day, OutboxRow.channel, func.count()).where(OutboxRow.state == "sent", OutboxRow.sent_at >= since)
            .group_by(sent_day, OutboxRow.channel)):
        counts[(_day(d), channel)]["sent"] = count
    # Failed and dropped rows record no time of the failure: the day they were queued stands for it.
    queued_day = func.date(OutboxRow.created_at)
    for d, channel, state, count in session.execute(
            select(queued_day, OutboxRow.channel, OutboxRow.state, func.count())
            .where(OutboxRow.state.in_(("failed", "dropped")), OutboxRow.created_at >= since)
            .group_by(queued_day, OutboxRow.channel, OutboxRow.state)):
        counts[(_day(d), channel)][state] = count
    return [MessageDay(d, channel, **c) for (d, channel), c in sorted(counts.items())]


def backlog(session: Session) -> list[BacklogCount]:
    """What waits to be delivered, per state and channel, with the age of its oldest row."""
    found = []
    waiting = (("queued", OutboxRow.state == "queued"), ("sending", OutboxRow.state == "sending"),
               ("retrying", (OutboxRow.state == "failed") & OutboxRow.next_attempt_at.is_not(None)))
    for name, condition in waiting:
        rows = session.execute(select(OutboxRow.channel, func.count(), func.min(OutboxRow.created_at))
                               .where(condition).group_by(OutboxRow.channel).order_by(OutboxRow.channel))
        found += [BacklogCount(name, channel, count, _utc(oldest)) for channel, count, oldest in rows]
    return found


def _utc(value: datetime) -> datetime:
    # An aggregate loses the column's type: naive UTC from SQLite, as stored.
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def live_workers(session: Session, now: datetime, within: timedelta = LIVE_WITHIN) -> list[WorkerInfo]:
    """Workers not known to have stopped whose heartbeat is recent, oldest first."""
    return workers.live_workers(session, beat_since=now - within)


def alert_lag(session: Session, since: datetime) -> AlertLag:
    """The lag of the Telegram alerts sent since `since` (median and worst), and what still waits."""
    alerts = (OutboxRow.channel == "telegram") & (OutboxRow.kind == "alert")
    lags = sorted((sent - created).total_seconds() for created, sent in session.execute(
        select(OutboxRow.created_at, OutboxRow.sent_at).where(alerts, OutboxRow.state == "sent",
                                                               OutboxRow.sent_at >= since)))
    waiting = (OutboxRow.state.in_(("queued", "sending"))
               | ((OutboxRow.state == "failed") & OutboxRow.next_attempt_at.is_not(None)))
    count, oldest = session.execute(select(func.count(), func.min(OutboxRow.created_at)).where(alerts, waiting)).one()
    median = None
    if lags:
        middle = len(lags) // 2
        median = lags[middle] if len(lags) % 2 else (lags[middle - 1] + lags[middle]) / 2
    return AlertLag(len(lags), median, lags[-1] if lags else None, count, _utc(oldest) if oldest else None)
