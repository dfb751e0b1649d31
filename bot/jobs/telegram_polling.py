"""Long polling for the bot's updates, in the planner only (Telegram answers a second getUpdates consumer with 409).

Each update is taken (its id stored in the database) before it is handled, so a
standby that takes over starts right after the last update taken: it neither loses
nor replays commands. The one window: a process killed between taking an update and
answering it; that command is lost (the user sees no answer and sends it again),
never run twice. The handler comes in from the entry point (`bot` never imports
`subscribers`): the CLI wires subscribers.telegram's UpdateHandler.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from telegram import Update
from telegram.error import Conflict, InvalidToken, TelegramError

from bot.channels.telegram.bridge import BotBridge
from bot.logs import log_event
from bot.store import Database, telegram_state

POLL_SECONDS = 10  # getUpdates long-poll timeout: a stop waits at most this (the thread is a daemon)
BACKOFF = (1, 2, 5, 10, 30)


class UpdatePolling:
    """A thread that polls getUpdates and hands each new update to `handle`; `start()`, `stop()`."""

    def __init__(self, db: Database, bridge: BotBridge, handle: Callable[[Update], None], *,
                 poll_seconds: int = POLL_SECONDS):
        self.db, self.bridge, self.handle, self.poll_seconds = db, bridge, handle, poll_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> UpdatePolling:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="telegram-updates", daemon=True)
        self._thread.start()
        log_event("telegram.polling", poll_seconds=self.poll_seconds)
        return self

    def stop(self, wait: float = 0.0) -> None:
        self._stop.set()
        if self._thread is not None and wait:
            self._thread.join(wait)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and not self._stop.is_set()

    def poll_once(self) -> int:
        """One getUpdates round: handle each update not taken before; how many were handled."""
        with self.db.session() as session:
            last = telegram_state.last_update_id(session)
        offset = None if last is None else last + 1
        updates = self.bridge.call(lambda bot: bot.get_updates(
            offset=offset, timeout=self.poll_seconds, allowed_updates=["message", "callback_query"]),
            timeout=self.poll_seconds + self.bridge.timeout * 2 + 5)
        handled = 0
        for update in updates:
            if self._stop.is_set():
                break  # not taken: the next poller gets it
            with self.db.session() as session:
                fresh = telegram_state.take_update(session, update.update_id)
            if fresh:
                self.handle(update)
                handled += 1
        return handled

    def _run(self) -> None:
        failures = 0
        try:  # a webhook left from a webhook deployment would make every getUpdates a 409
            self.bridge.call(lambda bot: bot.delete_webhook())
        except (TelegramError, TimeoutError) as exc:
            log_event("telegram.poll_error", level=logging.WARNING, error=f"{exc.__class__.__name__}: {exc}")
        while not self._stop.is_set():
            try:
                self.poll_once()
                failures = 0
            except (TelegramError, TimeoutError) as exc:
                failures += 1
                wait = BACKOFF[min(failures, len(BACKOFF)) - 1]
                level = logging.ERROR if isinstance(exc, InvalidToken) else logging.WARNING
                note = ("another process polls this bot, or a webhook is set" if isinstance(exc, Conflict)
                        else None)
                log_event("telegram.poll_error", level=level, error=f"{exc.__class__.__name__}: {exc}",
                          retry_in=wait, note=note)
                self._stop.wait(wait)
            except Exception as exc:  # noqa: BLE001 - a surprise must not end the bot; logged, tried again
                failures += 1
                log_event("telegram.poll_error", level=logging.ERROR, exc_info=True,
                          error=f"{exc.__class__.__name__}: {exc}")
                self._stop.wait(BACKOFF[min(failures, len(BACKOFF)) - 1])
