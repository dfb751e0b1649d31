"""A bounded cache of things many messages of a day share, kept by two generations instead of an LRU.

When the young generation is full it becomes the old one (the older is dropped); a key found in
the old one moves back to the young: what many readers share stays, what one reader needed goes.
No lock: each step is one dict operation, and a race at a swap only loses an entry.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Generic, TypeVar

Value = TypeVar("Value")


class TwoGenerations(Generic[Value]):
    """At most 2 x `limit` entries."""

    def __init__(self, limit: int) -> None:
        self._young: dict[Hashable, Value] = {}
        self._old: dict[Hashable, Value] = {}
        self._limit = limit

    def get(self, key: Hashable) -> Value | None:
        value = self._young.get(key)
        if value is None:
            value = self._old.get(key)
            if value is not None:
                self.put(key, value)
        return value

    def put(self, key: Hashable, value: Value) -> None:
        if len(self._young) >= self._limit:
            self._old, self._young = self._young, {}
        self._young[key] = value
