"""Rate limits kept in this process's memory: a sliding window of hits per key.

In-process on purpose for now: with several web processes each keeps its own
counts, so the effective limit is the limit times the number of processes.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    """At most `limit` hits per `window` seconds."""

    limit: int
    window: float


class RateLimiter:
    """`allow(key, rule)` records a hit and says whether it is within the rule; old keys are forgotten."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, max_keys: int = 50_000):
        self._clock = clock
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()
        self._max_keys = max_keys

    def allow(self, key: str, rule: Rule) -> bool:
        now = self._clock()
        with self._lock:
            hits = self._hits.pop(key, None) or deque()
            while hits and hits[0] <= now - rule.window:
                hits.popleft()
            allowed = len(hits) < rule.limit
            if allowed:
                hits.append(now)
            self._hits[key] = hits  # most recently used last
            while len(self._hits) > self._max_keys:
                self._hits.popitem(last=False)  # memory stays bounded under a flood of keys
        return allowed
