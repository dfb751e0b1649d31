"""Run and measure the pieces of a benchmarked day: CLI children (wall, peak RSS, CPU), smtp-sink, and its ceiling.

Peak RSS and CPU come from os.wait4() on each child: the kernel's own accounting of that process
(ru_maxrss is its high-water mark), exact however short the child lived, with no sampling. A child that
starts processes of its own (`digest --now`'s senders) is sampled too, every 0.1 s while it runs: VmHWM
(the kernel's high-water mark, so the last sample is the peak but for the last 0.1 s) and CPU of it and of
each of its descendants, since wait4() folds the reaped descendants into the child's own figures.
"""

from __future__ import annotations

import os
import shutil
import signal
import smtplib
import socket
import subprocess
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

SMTP_SINK = "/usr/sbin/smtp-sink"
TICK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Ran:
    """What a finished (or killed) child cost."""

    wall: float
    finished: bool  # False: killed at the timeout
    code: int | None
    peak_rss_mb: float
    cpu_s: float
    stderr_tail: str
    family: dict[int, tuple[float, float]] | None = None  # descendant pid -> (peak RSS MB, CPU s), sampled
    own_rss_mb: float | None = None  # the child's own peak (sampled), when it had descendants

    def own(self) -> tuple[float, float]:
        """(peak RSS MB, CPU s) of the child itself, without its descendants."""
        if not self.family:
            return self.peak_rss_mb, self.cpu_s
        return self.own_rss_mb or self.peak_rss_mb, self.cpu_s - sum(cpu for _, cpu in self.family.values())


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Child:
    """One CLI process, started now; stop() or wait() it to read its cost."""

    def __init__(self, argv: list[str], env: dict[str, str], log: Path, cwd: Path | None = None) -> None:
        self.log = log
        self.started = time.perf_counter()
        with log.open("ab") as out:
            self.proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         cwd=cwd)
        self.pid = self.proc.pid
        self._done: Ran | None = None
        self._family: dict[int, tuple[float, float]] = {}  # pid -> (VmHWM MB, CPU s), as last sampled
        self._own_hwm = 0.0

    def sample(self) -> None:
        """Record the peak RSS and CPU of this child and of every descendant it has now."""
        self._own_hwm = max(self._own_hwm, _hwm_mb(self.pid))
        for pid in _descendants(self.pid):
            hwm, cpu = _hwm_mb(pid), _cpu_s(pid)
            if hwm or cpu:
                self._family[pid] = (max(hwm, self._family.get(pid, (0.0, 0.0))[0]), cpu)

    def cpu_now(self) -> float:
        """User + system CPU seconds used so far (from /proc/<pid>/stat); 0 once it is gone."""
        return _cpu_s(self.pid)

    def poll(self) -> Ran | None:
        """The cost if the child has ended (reaped here, once), else None."""
        if self._done is None:
            pid, status, usage = os.wait4(self.pid, os.WNOHANG)
            if pid:
                self._finish(status, usage, True)
        return self._done

    def wait(self, timeout: float, until: Callable[[], bool] | None = None) -> Ran:
        """Wait for the end (or for until() to hold, then stop it); killed after timeout s."""
        deadline = self.started + timeout
        while self.poll() is None:
            if until is not None and until():
                return self.stop()
            if time.perf_counter() > deadline:
                return self.stop(signal.SIGKILL, finished=False)
            self.sample()
            time.sleep(0.1)  # the stage times come from the children and the sink's files, not from this loop
        return self._done  # type: ignore[return-value]

    def stop(self, sig: int = signal.SIGTERM, grace: float = 15.0, finished: bool = True) -> Ran:
        """Send sig, wait up to grace s (then SIGKILL), reap; the cost so far."""
        if self.poll() is not None:
            return self._done  # type: ignore[return-value]
        wall = time.perf_counter() - self.started
        self.proc.send_signal(sig)
        end = time.perf_counter() + grace
        while self.poll() is None and time.perf_counter() < end:
            time.sleep(0.05)
        if self._done is None:
            self.proc.kill()
            _, status, usage = os.wait4(self.pid, 0)
            self._finish(status, usage, False)
        self._done = Ran(wall, finished and self._done.finished, self._done.code, self._done.peak_rss_mb,
                         self._done.cpu_s, self._done.stderr_tail, self._done.family, self._done.own_rss_mb)
        return self._done

    def _finish(self, status: int, usage: os.struct_rusage, finished: bool) -> None:
        self.proc.returncode = os.waitstatus_to_exitcode(status)  # so Popen does not try to reap it again
        tail = self.log.read_text(errors="replace")[-600:] if self.log.exists() else ""
        self._done = Ran(time.perf_counter() - self.started, finished, self.proc.returncode,
                         usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime, tail,
                         dict(self._family), self._own_hwm if self._family else None)


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of `pid` so far (from /proc/<pid>/stat); 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def _hwm_mb(pid: int) -> float:
    """The peak resident set of `pid` so far (VmHWM), in MB; 0 once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _descendants(pid: int) -> list[int]:
    """Every process below `pid` now (children, their children...), from /proc/<pid>/task/*/children."""
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        try:
            tasks = list(Path(f"/proc/{parent}/task").iterdir())
        except OSError:
            continue
        for task in tasks:
            try:
                kids = [int(k) for k in (task / "children").read_text().split()]
            except OSError:
                continue
            found.extend(kids)
            todo.extend(kids)
    return found


def ensure_smtp_sink() -> None:
    """Install Debian's postfix for /usr/sbin/smtp-sink when it is missing (the postfix service is never started)."""
    if Path(SMTP_SINK).exists():
        return
    print("smtp-sink is missing: apt-get install postfix (the mail service itself is not started)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "install", "-y", "-q", "--no-install-recommends", "postfix"], env=env, check=True)


class Sink:
    """Postfix's smtp-sink on 127.0.0.1, dumping each message to a file of its own in `folder`."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True)
        self.folder = folder
        self.port = free_port()
        user = ["-u", "root"] if os.geteuid() == 0 else []
        self.proc = subprocess.Popen([SMTP_SINK, *user, "-d", f"{folder}/%H%M%S.", f"127.0.0.1:{self.port}", "512"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):  # until it accepts connections
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        self.url = f"smtp://127.0.0.1:{self.port}"

    def count(self) -> int:
        """Messages dumped so far."""
        return sum(1 for _ in os.scandir(self.folder))

    def read(self) -> tuple[Counter[str], list[float], int]:
        """(messages per envelope recipient, every dump file's mtime, average message bytes)."""
        recipients: Counter[str] = Counter()
        stamps, size = [], 0
        for entry in os.scandir(self.folder):
            info = entry.stat()
            stamps.append(info.st_mtime)
            size += info.st_size
            with open(entry.path, "rb") as handle:
                head = handle.read(1024).decode("latin-1")
            for line in head.splitlines():
                if line.startswith("X-Rcpt-Args:"):
                    recipients[line.split("<", 1)[1].split(">", 1)[0].lower()] += 1
        return recipients, sorted(stamps), size // max(1, len(stamps))

    def stop(self, keep: bool) -> None:
        """Stop the sink; delete the dump unless keep."""
        self.proc.terminate()
        self.proc.wait(10)
        if not keep:
            shutil.rmtree(self.folder, ignore_errors=True)


def sink_ceiling(folder: Path, size: int, seconds: float = 4.0, threads: int = 8) -> float:
    """Messages per second that 8 threads of bare smtplib push into a fresh smtp-sink: a pre-built message of `size` bytes."""
    body = ("x" * 75 + "\r\n") * max(1, size // 77)
    message = (f"From: bench@lab.example.org\r\nTo: reader@lab.example.org\r\nSubject: ceiling\r\n"
               f"MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\n{body}").encode()
    sink = Sink(folder)
    sent = [0] * threads
    stop = time.perf_counter() + seconds

    def push(slot: int) -> None:
        with smtplib.SMTP("127.0.0.1", sink.port) as smtp:
            while time.perf_counter() < stop:
                smtp.sendmail("bench@lab.example.org", ["reader@lab.example.org"], message)
                sent[slot] += 1

    started = time.perf_counter()
    workers = [threading.Thread(target=push, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    rate = sum(sent) / (time.perf_counter() - started)
    sink.stop(keep=False)
    return rate
