"""The worker's watch: a thread that keeps its locks honest and its row fresh, every couple of seconds.

Each round it
- checks this worker's own liveness lock (bot.jobs.liveness): once it is gone, others
  take our rows back, so the worker must stop claiming (`on_lost`, then the thread ends);
- beats the worker's heartbeat (every BEAT_EVERY s: a row shown by /healthz and stats);
- reaps dead workers (their liveness lock is free) and calls `on_dead`, so the sender
  takes their rows back now rather than at its next tick;
- as the planner, checks the planner lock is still held (`on_planner_lost` when its
  connection died); as a standby, tries to take it every STANDBY_RETRY s (`on_planner`).
One round's failure (the database briefly away) is logged, never fatal: the next round retries.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from bot.errors import WorkerLockHeld
from bot.jobs.liveness import WorkerHandle
from bot.jobs.locks import PlannerLock
from bot.logs import log_event

WATCH_EVERY = 2.0  # seconds between rounds
BEAT_EVERY = 10.0  # seconds between heartbeat writes
STANDBY_RETRY = 5.0  # seconds between a standby's tries at the planner lock: takeover well within a minute


class Watch:
    """Start with `start()`; `stop()` ends the thread. `planning` says whether we hold the planner lock now."""

    def __init__(self, handle: WorkerHandle, planner: PlannerLock | None, *, planning: bool,
                 on_planner: Callable[[], None], on_planner_lost: Callable[[], None],
                 on_dead: Callable[[], None], on_lost: Callable[[], None]):
        self.handle, self.planner, self.planning = handle, planner, planning
        self._on_planner, self._on_planner_lost = on_planner, on_planner_lost
        self._on_dead, self._on_lost = on_dead, on_lost
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="worker-watch", daemon=True)
        self._next_beat = 0.0
        self._next_try = 0.0

    def start(self) -> Watch:
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.wait(WATCH_EVERY):
            if not self.handle.alive():
                self._on_lost()
                return
            for step in (self._beat, self._reap, self._planner):
                try:
                    step()
                except Exception as exc:  # noqa: BLE001 - the database may be away a moment; next round retries
                    log_event("worker.watch_error", level=logging.WARNING, step=step.__name__.strip("_"),
                              error=f"{exc.__class__.__name__}: {exc}")

    def _beat(self) -> None:
        if time.monotonic() >= self._next_beat:
            self.handle.beat()
            self._next_beat = time.monotonic() + BEAT_EVERY

    def _reap(self) -> None:
        if self.handle.reap():
            self._on_dead()

    def _planner(self) -> None:
        if self.planner is None:
            return
        if self.planning:
            if not self.planner.held():
                self.planning = False
                self.planner.release()
                log_event("worker.planner_lost", level=logging.ERROR, worker=self.handle.id,
                          note="the planner lock's connection is gone; planning stops, and this worker "
                               "waits as a standby again")
                self._on_planner_lost()
            return
        if time.monotonic() < self._next_try:
            return
        self._next_try = time.monotonic() + STANDBY_RETRY
        try:
            self.planner.acquire()
        except WorkerLockHeld:
            return
        self.planning = True
        self._on_planner()
