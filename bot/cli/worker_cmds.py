"""`paperpost worker` (the scheduler) and `paperpost run` (web pages and worker in one process).

Both take the single-planner lock first (a second worker on the same database
refuses to start), log one line per event, and stop cleanly on SIGTERM or
Ctrl-C: no new work, claimed-but-unsent mail handed back, exit 0.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import TYPE_CHECKING

import click

from bot.app import App
from bot.cli.root import cli, pass_app
from bot.errors import PaperpostError
from bot.jobs.locks import planner_lock
from bot.logs import FORMATS, log_event, setup_logging

if TYPE_CHECKING:
    from bot.jobs.worker import Worker

SHUTDOWN_GRACE = 5.0  # seconds a running job gets to finish or hand back its rows

log_format_option = click.option("--log-format", type=click.Choice(FORMATS), default="text", show_default=True,
                                 help="text: one `event key=value` line per event; json: one JSON object per line.")


@contextmanager
def running_worker(app: App) -> Iterator[Worker]:
    """Hold the planner lock and run the worker's jobs for the duration of the block."""
    lock = planner_lock(app.config.database_url, app.config.data_dir)
    lock.acquire()  # before touching the database: a second worker stops here, with the holder's pid
    from bot.jobs.worker import Worker  # imported here: APScheduler is not needed by the other commands

    worker = Worker(app)
    try:
        worker.start()
        yield worker
    finally:
        clean = worker.stop(grace=SHUTDOWN_GRACE)
        lock.release()
        log_event("worker.stop", clean=clean)
        if not clean:
            # A job still waits on the network; its work is not stored and is redone next start. Do not
            # let the interpreter wait for its thread: exit now, with the lock already given back.
            logging.shutdown()
            os._exit(0)


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
@pass_app
def worker_cmd(app: App, log_format: str) -> None:
    """Run the scheduler: poll, match, plan and send on its own (stop with Ctrl-C or SIGTERM)."""
    setup_logging(log_format)
    with stop_signals() as stop, running_worker(app):
        while not stop.wait(1.0):
            pass


@cli.command("run")
@log_format_option
@click.option("--host", default="0.0.0.0", show_default=True, help="Address to listen on (127.0.0.1: this machine only).")
@click.option("--port", type=int, default=None, help="Port to listen on. Default: the PORT setting.")
@pass_app
def run_cmd(app: App, log_format: str, host: str, port: int | None) -> None:
    """The web pages and the worker in one process: the single-machine default."""
    from subscribers.web.server import build_server  # the CLI is the one place that wires bot and subscribers

    setup_logging(log_format)
    with stop_signals() as stop, running_worker(app) as worker:
        server = build_server(app, host=host, port=port or app.config["PORT"], wake_sender=worker.wake_sender)
        setup_logging(log_format)  # again: building the server set up uvicorn's own logging
        # uvicorn catches SIGTERM/SIGINT itself, shuts down, then re-raises the signal to our handler.
        try:
            server.run()
        except SystemExit as exc:  # uvicorn exits when it cannot start (the reason is in the log above)
            if exc.code:
                raise PaperpostError(f"The web pages could not start on {host}:{port or app.config['PORT']} (see the "
                                     "log above); free that port or choose another with PORT.") from None
        stop.set()
