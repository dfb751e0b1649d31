"""Bulk work on many small objects without the cyclic garbage collector walking them again and again.

An index of 20,000 profiles holds millions of tuples, and matching a day allocates millions more.
CPython starts a collection every few hundred allocations and a full one whenever the heap has
grown by a quarter, and each full collection walks every object alive: on a typical day half of
matching was spent there, finding nothing (trees, tuples and rows hold no cycles). Reference
counting still frees everything at once; only cycles wait until the block ends.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_depth = 0  # nested or concurrent blocks: the collector comes back when the last one ends
_was_enabled = True


@contextmanager
def collector_paused() -> Iterator[None]:
    """Run the block with the cyclic collector off (as it was before once every such block has ended)."""
    global _depth, _was_enabled
    with _lock:
        if _depth == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _was_enabled:
                gc.enable()

