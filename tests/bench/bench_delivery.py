"""Benchmark (not collected): render and send N digests through a local aiosmtpd sink.

    /work/venv/bin/python tests/bench/bench_delivery.py --n 2000 --connections 4

Prints msgs/s end to end (claim + compose + SMTP + outbox bookkeeping), the
sending process's CPU per message (less noisy than msgs/s on a shared machine), render
ms per email (template inlined once vs premailer per email) and peak memory.
The sink runs in its own process by default, as a real relay would: in ours it
would take the GIL for ~2 ms a message (`--sink thread` shows that case).
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mailworld import Clock, add_matches, add_people, make_app
from smtpserver import SmtpSink

from bot.config import TEMPLATES_DIR
from bot.jobs.cycle import send_step
from bot.jobs.plan import plan_digests
from bot.digest.rendering import inline_css
from bot.channels.email.digest_mail import load_digest
from bot.store import outbox


def serve(port_out, stop_in) -> None:  # type: ignore[no-untyped-def]
    """The sink in a child process: report its port, wait for the word, report (count, size of one message)."""
    sink = SmtpSink().start()
    kept = {"count": 0, "size": 0}

    def count(n: int) -> None:
        kept["count"] += 1
        if not kept["size"] and sink.handler.received:
            kept["size"] = len(sink.handler.received[-1].data)
        with sink.handler.lock:
            sink.handler.received.clear()  # keep the sink's memory flat at N=20,000

    sink.handler.on_message = count
    port_out.send(sink.port)
    stop_in.recv()
    port_out.send((kept["count"], kept["size"]))
    sink.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--papers", type=int, default=10)
    parser.add_argument("--sink", choices=("process", "thread"), default="process")
    args = parser.parse_args()
    if args.sink == "process":
        ours, theirs = multiprocessing.Pipe()
        child = multiprocessing.Process(target=serve, args=(theirs, theirs), daemon=True)
        child.start()
        url = f"smtp://127.0.0.1:{ours.recv()}"
    else:
        sink = SmtpSink().start()
        url = sink.url
    with tempfile.TemporaryDirectory() as folder:
        env = {"PAPERPOST_DATA": folder, "PAPERPOST_CONFIG": str(Path(folder) / "none.toml")}
        app = make_app(env, Clock(), PAPERPOST_SMTP_URL=url, PAPERPOST_SMTP_CONNECTIONS=str(args.connections))
        people = add_people(app, args.n)
        add_matches(app, people, per_person=args.papers)
        started = time.perf_counter()
        plan = plan_digests(app.db, app.clock(), ignore_hour=True)
        plan_s = time.perf_counter() - started

        with app.db.session() as session:
            item = outbox.list_outbox(session, limit=1)[0]
            digest = load_digest(session, item, app.mail_context)
        renderer = app.renderer
        renderer.template("email/digest.html")
        raw = renderer.env.from_string((TEMPLATES_DIR / "email" / "digest.html").read_text())
        rounds = 200
        t = time.perf_counter()
        for _ in range(rounds):
            renderer.render("email/digest.html", digest=digest)
        once_ms = (time.perf_counter() - t) / rounds * 1000
        t = time.perf_counter()
        for _ in range(rounds // 10):
            inline_css(raw.render(digest=digest))
        per_email_ms = (time.perf_counter() - t) / (rounds // 10) * 1000

        setup_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # planting N subscribers' matches
        t, cpu = time.perf_counter(), time.process_time()
        report = send_step(app)
        send_s, cpu_s = time.perf_counter() - t, time.process_time() - cpu
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # the process's peak RSS (tracemalloc slows Python ~10x)
        app.close()
    if args.sink == "process":
        ours.send("stop")
        received, size = ours.recv()
        child.join(5)
    else:
        received, size = len(sink.received), len(sink.received[0].data) if sink.received else 0
        sink.stop()
    print(f"N={args.n} papers/digest={args.papers} connections={args.connections} sink={args.sink} "
          f"message={size / 1024:.0f} KB received={received}")
    print("| plan (s) | send (s) | msgs/s | client CPU ms/msg | render inlined-once (ms) | render + premailer (ms) "
          "| ratio | peak RSS MB (after setup -> after send) |")
    print(f"| {plan_s:.2f} | {send_s:.1f} | {report.sent / send_s:.0f} | {cpu_s / max(1, report.sent) * 1000:.2f} | "
          f"{once_ms:.2f} | {per_email_ms:.1f} | {per_email_ms / once_ms:.0f}x | {setup_peak / 2**20:.0f} -> {peak / 2**20:.0f} |")
    print(f"planned {plan.planned}, sent {report.sent}, failed {report.failed}")


if __name__ == "__main__":
    main()
