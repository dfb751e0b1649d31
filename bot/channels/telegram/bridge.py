"""The one thread that owns python-telegram-bot's event loop, and the narrow bridge the rest of the process calls.

Senders and the command loop are plain threads; each call hands a coroutine to the
loop and waits for its result (or its exception, raised in the caller's thread).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import TypeVar

from telegram import Bot
from telegram.request import HTTPXRequest

T = TypeVar("T")


class BotBridge:
    """A `telegram.Bot` on its own event-loop thread; `call(lambda bot: bot.send_message(...))` from any thread."""

    def __init__(self, token: str, base_url: str, *, connections: int = 8, timeout: float = 10.0):
        self.token, self.base_url, self.timeout = token, base_url, timeout
        self._connections = connections
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._bot: Bot | None = None
        self._lock = threading.Lock()

    def _request(self, read_timeout: float) -> HTTPXRequest:
        return HTTPXRequest(connection_pool_size=self._connections, connect_timeout=self.timeout,
                            read_timeout=read_timeout, write_timeout=self.timeout, pool_timeout=self.timeout)

    def start(self) -> BotBridge:
        with self._lock:
            if self._loop is not None:
                return self
            loop = asyncio.new_event_loop()
            thread = threading.Thread(target=loop.run_forever, name="telegram-loop", daemon=True)
            thread.start()
            # getUpdates long-polls: its own connection, with room for the poll's timeout.
            bot = Bot(self.token, base_url=self.base_url, request=self._request(self.timeout),
                      get_updates_request=self._request(self.timeout + 35))
            self._loop, self._thread, self._bot = loop, thread, bot
        return self

    def call(self, step: Callable[[Bot], Awaitable[T]], timeout: float | None = None) -> T:
        """Run `step(bot)` on the loop and return its result; its exception is raised here."""
        self.start()
        assert self._loop is not None and self._bot is not None
        bot = self._bot

        async def run() -> T:
            await bot.initialize()  # once (getMe); a no-op after that
            return await step(bot)

        future = asyncio.run_coroutine_threadsafe(run(), self._loop)
        return future.result(timeout=timeout or self.timeout * 6 + 40)

    def close(self) -> None:
        with self._lock:
            loop, thread, bot = self._loop, self._thread, self._bot
            self._loop = self._thread = self._bot = None
        if loop is None or thread is None or bot is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(bot.shutdown(), loop).result(timeout=10)
        except Exception:  # noqa: BLE001 - closing what is already broken must not stop a shutdown
            pass
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()
