"""`paperpost worker [--jobs poll,plan,send]` (the scheduler) and `paperpost run` (web pages and worker in one process).

Both register the process as a worker (bot.jobs.liveness: the owner of the rows it
claims), log one line per event, and stop cleanly on SIGTERM or Ctrl-C: no new
work, claimed-but-unsent mail handed back, exit 0. On SQLite the planner lock is
taken first, and a second worker on the same database refuses to start; on
PostgreSQL a second worker sends and stands by for the planner role. A worker whose
liveness lock's connection died stops and exits 1 (others took its rows back).
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import FrameType
from typing import TYPE_CHECKING

import click

from bot.app import App
from bot.cli.root import cli, pass_app
from bot.errors import PaperpostError
from bot.jobs.liveness import registered
from bot.jobs.locks import planner_lock
from bot.jobs.roles import JOBS, roles_of
from bot.logs import FORMATS, log_event, setup_logging

if TYPE_CHECKING:
    from bot.jobs.worker import Worker

LOST = ("This worker lost its connection to the database's liveness lock, so other workers take its mail back; "
        "it stopped. Start it again (a supervisor such as systemd or the platform does so by itself).")
SHUTDOWN_GRACE = 5.0  # seconds a running job gets to finish or hand back its rows

log_format_option = click.option("--log-format", type=click.Choice(FORMATS), default="text", show_default=True,
                                 help="text: one `event key=value` line per event; json: one JSON object per line.")


@contextmanager
def running_worker(app: App, jobs: Sequence[str] = ("poll", "plan", "send")) -> Iterator[Worker]:
    """Register this process, take or wait for the planner lock, and run the worker's jobs for the block."""
    from bot.jobs.worker import Worker  # imported here: APScheduler is not needed by the other commands

    if app.config["PAPERPOST_TELEGRAM_TOKEN"] and app.update_handler is None:
        from subscribers.telegram.replies import UpdateHandler  # the CLI wires the chat commands in

        app.update_handler = UpdateHandler(app)
    lock = planner_lock(app.config.database_url, app.config.data_dir)
    sqlite = app.db.is_sqlite
    if sqlite:
        lock.acquire()  # one worker per SQLite database: a second stops here, with the holder's pid
    clean = True
    try:
        with registered(app.db, app.config, roles_of(jobs, sqlite), app.clock) as handle:
            worker = Worker(app, handle, jobs=jobs, planner=lock, planning=sqlite)
            try:
                worker.start()
                yield worker
            finally:
                clean = worker.stop(grace=SHUTDOWN_GRACE)
                lock.release()
                log_event("worker.stop", clean=clean)
    finally:
        lock.release()
    if not clean:
        # A job still waits on the network; its work is not stored and is redone next start. Do not
        # let the interpreter wait for its thread: exit now, with the locks already given back.
        logging.shutdown()
        os._exit(0)


def parse_jobs(text: str) -> tuple[str, ...]:
    """`poll,plan,send` as a tuple in that order; click's error names the unknown job and the choices."""
    wanted = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [job for job in wanted if job not in JOBS]
    if unknown or not wanted:
        raise click.BadParameter(
            f"{'unknown job ' + repr(unknown[0]) if unknown else 'no job given'}; give one or more of "
            f"{', '.join(JOBS)}, separated by commas (e.g. --jobs send)", param_hint="--jobs")
    return tuple(job for job in JOBS if job in wanted)


@contextmanager
def stop_signals() -> Iterator[threading.Event]:
    """An event set by SIGTERM or SIGINT (Ctrl-C); a second signal while stopping exits at once."""
    stop = threading.Event()

    def handle(signum: int, _frame: FrameType | None) -> None:
        if stop.is_set():
            os._exit(1)
        log_event("signal", name=signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@cli.command("worker")
@log_format_option
@click.option("--jobs", "jobs_text", default="poll,plan,send", show_default=True, metavar="JOBS",
              help="Comma-separated jobs of this worker: poll and plan (the planner; on PostgreSQL a second "
                   "one waits as a standby), send (any number on PostgreSQL).")
@pass_app
def worker_cmd(app: App, log_format: str, jobs_text: str) -> None:
    """Run the scheduler: poll, match, plan and send on its own (stop with Ctrl-C or SIGTERM)."""
    jobs = parse_jobs(jobs_text)
    setup_logging(log_format)
    with stop_signals() as stop, running_worker(app, jobs) as worker:
        while not stop.wait(1.0) and not worker.lost.is_set():
            pass
    if worker.lost.is_set():
        raise PaperpostError(LOST)


@cli.command("run")
@log_format_option
@click.option("--host", default="0.0.0.0", show_default=True, help="Address to listen on (127.0.0.1: this machine only).")
@click.option("--port", type=int, default=None, help="Port to listen on. Default: the PORT setting.")
@pass_app
def run_cmd(app: App, log_format: str, host: str, port: int | None) -> None:
    """The web pages and the worker in one process: the single-machine default."""
    from subscribers.web.server import build_server  # the CLI is the one place that wires bot and subscribers
    from subscribers.web.telegram_webhook import register_webhook_if_wanted

    setup_logging(log_format)
    with stop_signals() as stop, running_worker(app) as worker:
        server = build_server(app, host=host, port=port or app.config["PORT"], wake_sender=worker.wake_sender)
        setup_logging(log_format)  # again: building the server set up uvicorn's own logging
        register_webhook_if_wanted(app)

        def stop_pages_when_lost() -> None:  # a worker that lost its liveness lock stops the whole process
            worker.lost.wait()
            server.should_exit = True

        threading.Thread(target=stop_pages_when_lost, name="lost-watch", daemon=True).start()
        # uvicorn catches SIGTERM/SIGINT itself, shuts down, then re-raises the signal to our handler.
        try:
            server.run()
        except SystemExit as exc:  # uvicorn exits when it cannot start (the reason is in the log above)
            if exc.code:
                raise PaperpostError(f"The web pages could not start on {host}:{port or app.config['PORT']} (see the "
                                     "log above); free that port or choose another with PORT.") from None
        stop.set()
    if worker.lost.is_set():
        raise PaperpostError(LOST)
