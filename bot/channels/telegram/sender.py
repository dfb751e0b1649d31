"""The Telegram sender: each part of a message paced (1 per second per chat, the overall rate across every thread
and process on the database), sent through the bridge, its papers recorded as delivered; errors as Outcomes.

Pacing is ours (python-telegram-bot's limiter does not pace private chats, and knows
nothing of other processes). The overall rate is a SharedRate on "telegram", run a
little under the setting so that network jitter never shows Telegram a 31st message
in a second. A chat is held for one send at a time (bot/store/telegram_state.py) and
freed one interval after Telegram answered, so two messages to one chat are at least
that far apart however the threads interleave. A chat held further ahead than
MAX_WAIT (a 429's retry_after, a burst to one chat) is not waited for: the row is
retried then, and the thread sends to other chats meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

from sqlalchemy.exc import IntegrityError
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions
from telegram import error as tg_error
from telegram.constants import ParseMode

from bot.channels.outcomes import SENT, Outcome, permanent, retry_after
from bot.channels.rate import SharedRate
from bot.channels.telegram.bridge import BotBridge
from bot.channels.telegram.message import Part, TelegramMessage
from bot.channels.telegram.outcome_table import retry_seconds, telegram_outcome
from bot.logs import log_event
from bot.store import Database, subscribers, telegram_state

CHAT_INTERVAL = 1.0  # seconds between two messages to one chat (Telegram: about one per second)
MAX_WAIT = 2.0  # a chat free within this is waited for; later, the row is retried then
GONE_HOLD = 600.0  # seconds a chat that answered 403 is not tried by any sender (its channel goes off meanwhile)
# The chat's channel is being turned off by the row that met the 403: the others fail for good, unsent.
ALREADY_GONE = permanent("telegram: the chat refused an earlier message of this pass (403); not sent")
RATE_MARGIN = 0.8  # the overall rate is paced at 80% of the setting: room for the jitter on the way to Telegram


def _utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, timezone.utc)


class TelegramSender:
    """Sends TelegramMessages; `parallelism` threads at once (the engine's pool), paced across processes."""

    def __init__(self, bridge: BotBridge, db: Database, *, rate: float = 30.0, connections: int = 8,
                 clock: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep):
        self.bridge, self.db = bridge, db
        self.connections = connections
        self.rate = SharedRate(db, "telegram", rate * RATE_MARGIN, clock=clock, sleep=sleep) if rate > 0 else None
        self._clock, self._sleep = clock, sleep
        self._lease = timedelta(seconds=bridge.timeout * 2 + 5)  # a crashed holder frees the chat then
        self._gone: set[str] = set()  # chats that answered 403 in this pass: no second try
        self._lock = threading.Lock()

    @property
    def parallelism(self) -> int:
        return self.connections

    def send(self, message: TelegramMessage) -> Outcome:
        chat = message.chat_id
        for part in message.parts:
            if self._refused(chat):
                return ALREADY_GONE
            outcome, chat = self._send_part(message, chat, part)
            if outcome is not SENT:
                return outcome
        return SENT

    def _refused(self, chat: str) -> bool:
        with self._lock:
            return chat in self._gone

    def close(self) -> None:
        pass  # the bridge belongs to the App: one per process, closed with it

    # One part ---------------------------------------------------------------------------------------

    def _send_part(self, message: TelegramMessage, chat: str, part: Part) -> tuple[Outcome, str]:
        waited = self._take_chat(chat)
        if waited is not None:
            return retry_after(waited, f"telegram: chat {chat} is paced; next message in {waited:.1f} s"), chat
        if self._refused(chat):  # while this thread waited for the chat
            return ALREADY_GONE, chat
        try:
            try:
                self._post(chat, part)
            except tg_error.ChatMigrated as moved:
                new_chat = str(moved.new_chat_id)
                self._follow(message, chat, new_chat)
                self._free(chat)
                chat = new_chat
                waited = self._take_chat(chat)
                if waited is not None:
                    return retry_after(waited, f"telegram: chat moved to {chat}; sent there next"), chat
                self._post(chat, part)
        except tg_error.RetryAfter as exc:
            seconds = retry_seconds(exc)
            with self.db.session() as session:
                telegram_state.hold_chat(session, chat, _utc(self._clock() + seconds))
            return telegram_outcome(exc), chat
        except tg_error.TelegramError as exc:
            outcome = telegram_outcome(exc)
            if outcome.kind == "recipient_gone":
                # Held long enough for the channel to be recorded off: no other sender tries this chat meanwhile.
                with self._lock:
                    self._gone.add(chat)
                with self.db.session() as session:
                    telegram_state.hold_chat(session, chat, _utc(self._clock() + GONE_HOLD))
            else:
                self._free(chat)
            return outcome, chat
        except TimeoutError:
            self._free(chat)
            return retry_after(None, "telegram: no answer from the bot's event loop in time"), chat
        except Exception:
            self._free(chat)  # a bug: the engine records it and retries; the chat must not stay held
            raise
        self._free(chat)
        # Until this commits, the part is the crash window: Telegram has it, we do not know yet.
        with self.db.session() as session:
            telegram_state.record_sent_papers(session, message.outbox_id, part.paper_ids, _utc(self._clock()))
        return SENT, chat

    def _post(self, chat: str, part: Part) -> None:
        markup = None
        if part.buttons:
            markup = InlineKeyboardMarkup([[InlineKeyboardButton(b.text, url=b.url) if b.url
                                            else InlineKeyboardButton(b.text, callback_data=b.callback) for b in row]
                                           for row in part.buttons])

        async def paced_send(bot: Bot) -> object:
            await self._overall_slot()
            return await bot.send_message(chat, part.html, parse_mode=ParseMode.HTML, reply_markup=markup,
                                          link_preview_options=LinkPreviewOptions(is_disabled=True))

        self.bridge.call(paced_send)

    async def _overall_slot(self) -> None:
        """Wait for a slot of the overall rate, on the bot's loop, right before the request leaves.

        On a busy machine the loop may get to a send well after its slot; a send that
        late takes a new slot instead, or the late ones would reach Telegram together.
        """
        rate = self.rate
        if rate is None:
            return
        while True:
            released = await asyncio.to_thread(lambda: (rate.wait(), self._clock())[1])
            if self._clock() - released <= rate.interval:
                return

    # Chat holds -------------------------------------------------------------------------------------

    def _take_chat(self, chat: str) -> float | None:
        """Hold `chat` for one send; None when held, else the seconds until it is free (the row waits that long).

        A chat paced or held by a 429 for more than MAX_WAIT is not waited for. A chat that
        another thread or process is sending to right now (its lease) is waited for, up to
        one send's timeout: that send ends soon, and frees the chat one interval later.
        """
        deadline = self._clock() + self.bridge.timeout + MAX_WAIT
        while True:
            now = self._clock()
            with self.db.session() as session:
                free_at = telegram_state.take_chat(session, chat, _utc(now), self._lease)
            if free_at is None:
                return None
            wait = free_at.timestamp() - now
            sending_now = wait > self._lease.total_seconds() * 0.75
            if (wait > MAX_WAIT and not sending_now) or now >= deadline:
                return min(wait, self._lease.total_seconds()) if sending_now else wait
            self._sleep(min(wait, 0.05) if sending_now else max(wait, 0.01))

    def _free(self, chat: str) -> None:
        with self.db.session() as session:
            telegram_state.free_chat(session, chat, _utc(self._clock() + CHAT_INTERVAL))

    def _follow(self, message: TelegramMessage, old: str, new: str) -> None:
        """Telegram moved the chat to a new id: the subscriber's chat becomes the new one."""
        try:
            with self.db.session() as session:
                moved = subscribers.move_telegram_chat(session, old, new)
        except IntegrityError:
            moved = False
        log_event("telegram.chat_migrated", level=logging.WARNING, subscriber=message.subscriber_id, old=old, new=new,
                  updated=moved)
