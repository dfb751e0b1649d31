"""A send rate shared by every sender process on one database (bot/store/pacing.py), as a Pacer for the senders.

Each process reserves the next free slots in the `pacing` table and sends at
their times, so all processes together stay under the rate. At high rates a
process reserves a small block at once (about a tenth of a second's worth) to
save round trips; a reserved slot it is too late for lapses unused, so a slow
process never bursts to catch up.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime, timezone

from bot.store import Database, pacing


class SharedRate:
    """`wait()` returns when this process may send its next message under `rate` per second on `name`."""

    def __init__(self, db: Database, name: str, rate: float, *, clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep):
        self.db, self.name = db, name
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self.block = max(1, int(rate // 10))  # slots per reservation: ~0.1 s worth
        self._clock, self._sleep = clock, sleep
        self._slots: deque[float] = deque()
        self._lock = threading.Lock()

    def wait(self) -> None:
        if not self.interval:
            return
        with self._lock:
            while True:
                if not self._slots:
                    self._reserve()
                slot = self._slots.popleft()
                now = self._clock()
                if slot >= now - self.interval:
                    break  # late by under one interval at most: used; later than that, it lapses
        if slot > now:
            self._sleep(slot - now)  # outside the lock: other threads take the following slots meanwhile

    def _reserve(self) -> None:
        now = datetime.fromtimestamp(self._clock(), timezone.utc)
        with self.db.session() as session:
            start = pacing.reserve(session, self.name, self.interval, now, self.block).timestamp()
        self._slots.extend(start + k * self.interval for k in range(self.block))
