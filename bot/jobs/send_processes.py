"""Sender processes for `paperpost digest`: child processes of this machine that send while the command plans.

One process sends about 160 messages a second (composing is CPU work, and the GIL keeps it to one core);
PAPERPOST_SEND_PROCESSES children share the outbox the way `paperpost worker --jobs send` processes do.
Each child is `python -m bot.jobs.send_processes PARENT_PID` (a fresh interpreter: no database connection
crosses a fork), gets the parent's resolved settings on its stdin, registers as a worker of its own (its
liveness lock is what frees its rows at once if it dies), and runs a send pass on each wake-up.

The parent and a child talk over two pipes, one line per message:
- parent -> child (its stdin): `wake` (a group of digests was committed), `planned` (planning has ended:
  a last pass, then exit), `stop` (hand back what is claimed and exit). End of file: the parent is gone, stop.
- child -> parent (a copy of its stdout; what it prints goes to stderr): JSON objects, `{"ready": worker id}`,
  `{"progress": result}` per row, `{"pass": SendReport}` per pass, `{"done": true}` at a clean end.

A child dies with its parent (Linux: PR_SET_PDEATHSIG, SIGKILL), as a crash of the whole command would end
it: its rows are taken back at once by the next run. Once the children have ended, the parent runs one more
pass of its own, which takes back the rows of a child that died and sends them.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from typing import IO, Any

from bot.app import App
from bot.config import Config
from bot.jobs.cycle import Wakeups, send_step, summed_reports
from bot.jobs.liveness import registered
from bot.jobs.send import Owner, SendReport
from bot.store import outbox

STOP_GRACE = 10.0  # seconds a stopped child gets to hand back its rows before it is killed
PR_SET_PDEATHSIG = 1


@dataclass
class _Child:
    """One sender process as the parent sees it."""

    proc: subprocess.Popen[bytes]
    passes: list[SendReport] = field(default_factory=list)
    done: bool = False  # it said `done`: it ended cleanly, after its last pass
    reader: threading.Thread | None = None

    def how_it_ended(self) -> str:
        code = self.proc.returncode
        return f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}"


class SenderProcesses:
    """`count` child processes that send while this process plans (Senders for `plan_and_send`).

    `on_progress(result)` runs once per row a child has finished (from a reader thread). Start with
    `start()`; `finish()` once planning has ended; `stop()` on the way out (no-op once finished).
    `ended_early` lists (pid, how) of the children that did not end cleanly.
    """

    def __init__(self, app: App, owner: Owner, count: int, *, on_progress: Callable[[str], None] | None = None):
        self.app, self.owner, self.count, self.on_progress = app, owner, count, on_progress
        self.children: list[_Child] = []
        self.ended_early: list[tuple[int, str]] = []
        self._finished = False

    def start(self) -> None:
        """Start the children and hand each the settings; they register and wait for a wake-up."""
        setup = json.dumps({"config": dict(self.app.config.values)}) + "\n"
        for _ in range(self.count):
            proc = subprocess.Popen([sys.executable, "-m", "bot.jobs.send_processes", str(os.getpid())],
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE)
            child = _Child(proc)
            child.reader = threading.Thread(target=self._read, args=(child,), name=f"sender-{proc.pid}", daemon=True)
            child.reader.start()
            self.children.append(child)
            self._tell(child, setup)

    def wake(self) -> None:
        for child in self.children:
            self._tell(child, "wake\n")

    def finish(self) -> SendReport:
        """Planning has ended: each child runs its last pass and exits; then this process takes back and sends
        whatever a child that died left. The report counts what every process did."""
        for child in self.children:
            self._tell(child, "planned\n")
        self._wait()
        self._finished = True
        passes = [p for child in self.children for p in child.passes]
        lasts = [child.passes[-1] for child in self.children if child.passes]
        if any(last.deferred for last in lasts):
            # A channel could not be reached: what waits goes out on the next run, not in one more try now.
            waiting, held = self._left_waiting()
            return replace(summed_reports(passes), deferred=waiting, held_by_live=held)
        return summed_reports([*passes, send_step(self.app, self.owner, on_progress=self._progress_of_own)])

    def stop(self) -> None:
        """Tell the children to hand back their rows and end; kill those still there after STOP_GRACE s."""
        if self._finished:
            return
        self._finished = True
        for child in self.children:
            self._tell(child, "stop\n")
        deadline = time.monotonic() + STOP_GRACE
        for child in self.children:
            try:
                child.proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.proc.kill()
        self._wait()

    # Plumbing -----------------------------------------------------------------------------------------

    def _tell(self, child: _Child, line: str) -> None:
        try:
            assert child.proc.stdin is not None
            child.proc.stdin.write(line.encode())
            child.proc.stdin.flush()
        except (BrokenPipeError, ValueError):
            pass  # it has ended: what it held is taken back by the parent's last pass

    def _read(self, child: _Child) -> None:
        """A child's reports, until it ends."""
        assert child.proc.stdout is not None
        for line in child.proc.stdout:
            try:
                message = json.loads(line)
            except ValueError:
                continue
            if "progress" in message and self.on_progress is not None:
                self.on_progress(message["progress"])
            elif "pass" in message:
                child.passes.append(SendReport(**message["pass"]))
            elif message.get("done"):
                child.done = True

    def _wait(self) -> None:
        """Reap the children (and read their last reports); note those that did not end cleanly."""
        for child in self.children:
            child.proc.wait()
            if child.reader is not None:
                child.reader.join()
            if child.proc.stdin is not None and not child.proc.stdin.closed:
                try:
                    child.proc.stdin.close()
                except BrokenPipeError:
                    pass
            if not child.done and (child.proc.pid, child.how_it_ended()) not in self.ended_early:
                self.ended_early.append((child.proc.pid, child.how_it_ended()))

    def _progress_of_own(self, item: object, result: str) -> None:
        if self.on_progress is not None:
            self.on_progress(result)

    def _left_waiting(self) -> tuple[int, int]:
        """(rows this process's channels could send now: queued, or held by a process that is gone;
        rows a live process of another command holds)."""
        channels = self.app.channels()
        try:
            kinds = [kind for channel in channels for kind in channel.kinds]
        finally:
            self.app.close_channels(channels)
        now, dead = self.app.clock(), self.owner.dead_owners()
        with self.app.db.session() as session:
            return (outbox.count_claimable(session, now, kinds=kinds, dead_owners=dead),
                    outbox.count_held(session, now, owner_id=self.owner.id, dead_owners=dead))


def send_processes_wanted(config: Config, *, only: int | None = None) -> int:
    """How many processes send for `paperpost digest`: PAPERPOST_SEND_PROCESSES, one for a single subscriber."""
    return 1 if only is not None else int(config["PAPERPOST_SEND_PROCESSES"])


@contextmanager
def sender_processes(app: App, owner: Owner, count: int, *,
                     on_progress: Callable[[str], None] | None = None) -> Iterator[SenderProcesses | None]:
    """`count` > 1: that many sender processes, started now, stopped (rows handed back) if the block ends
    before `finish()`; SIGTERM stops them as Ctrl-C does. `count` 1: None (the caller's process sends)."""
    if count <= 1:
        yield None
        return
    pool = SenderProcesses(app, owner, count, on_progress=on_progress)
    with _sigterm_interrupts():
        pool.start()
        try:
            yield pool
        finally:
            pool.stop()


@contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """Within the block, SIGTERM raises KeyboardInterrupt in the main thread (as Ctrl-C), so the children are
    stopped on the way out instead of being left to the kernel."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


# The child side ---------------------------------------------------------------------------------------


class _Reports:
    """The child's lines to the parent (thread-safe: rows finish in several threads)."""

    def __init__(self, stream: IO[str]):
        self._stream, self._lock = stream, threading.Lock()

    def send(self, message: Mapping[str, Any]) -> None:
        line = json.dumps(message) + "\n"
        with self._lock:
            self._stream.write(line)
            self._stream.flush()


def _die_with_parent(parent_pid: int) -> None:
    """Be killed when the parent dies (Linux); exit now if it is already gone."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent_pid:
        os._exit(1)


def _listen(commands: IO[str], wakeups: Wakeups) -> None:
    """The parent's commands, until `planned`, `stop` or the end of the pipe (the parent is gone)."""
    for line in commands:
        command = line.strip()
        if command == "wake":
            wakeups.wake()
        elif command == "planned":
            wakeups.planned()
        elif command == "stop":
            break
    wakeups.stop()


def child_main(parent_pid: int) -> int:
    """One sender process: register, send a pass per wake-up, report each pass, exit after the last."""
    _die_with_parent(parent_pid)
    reports = _Reports(os.fdopen(os.dup(1), "w"))
    os.dup2(2, 1)  # anything printed goes to stderr, never into the reports
    setup = json.loads(sys.stdin.readline() or "{}")
    if "config" not in setup:
        return 1  # the parent went away before it sent anything
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in setup["config"].items()}
    app = App(Config(values))
    wakeups = Wakeups()
    for signum in (signal.SIGTERM, signal.SIGINT):  # Ctrl-C reaches the whole process group: hand back, end
        signal.signal(signum, lambda *_: wakeups.stop())
    try:
        with registered(app.db, app.config, ("send",), app.clock) as owner:
            reports.send({"ready": owner.id})
            threading.Thread(target=_listen, args=(sys.stdin, wakeups), name="commands", daemon=True).start()

            def send_pass() -> SendReport:
                report = send_step(app, owner, should_stop=wakeups.stopped.is_set,
                                   on_progress=lambda item, result: reports.send({"progress": result}))
                reports.send({"pass": asdict(report)})
                return report

            wakeups.passes(send_pass)
        reports.send({"done": True})
        return 0
    finally:
        app.close()


if __name__ == "__main__":
    sys.exit(child_main(int(sys.argv[1])))
