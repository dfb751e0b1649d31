"""The pages on a real uvicorn server on a free loopback port, and a visitor that speaks to it over HTTP."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from bot.app import App
from subscribers.web.server import build_server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve(app: App, port: int | None = None, **options: Any) -> Iterator[str]:
    """Run `build_server(app, ...)` in a thread for the block; yields the base URL."""
    port = port or free_port()
    options.setdefault("log_level", "warning")
    server = build_server(app, "127.0.0.1", port, **options)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started, "the web server did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([0-9a-f]+)"', html).group(1)  # type: ignore[union-attr]


class Visitor:
    """One browser-like client: its own cookie jar and the CSRF token of its last form."""

    def __init__(self, base: str, **headers: str):
        self.http = httpx.Client(base_url=base, headers=headers, follow_redirects=False, timeout=30)
        self.token = ""

    def open(self, path: str = "/") -> httpx.Response:
        page = self.http.get(path)
        if 'name="csrf"' in page.text:
            self.token = csrf_of(page.text)
        return page

    def post(self, path: str, fields: dict[str, str], *, multipart: bool = False,
             headers: dict[str, str] | None = None) -> httpx.Response:
        """POST a form (urlencoded, or multipart/form-data) with this visitor's CSRF token."""
        if not self.token:
            self.open("/")
        data = {"csrf": self.token, **fields}
        if multipart:
            return self.http.post(path, files={k: (None, v) for k, v in data.items()}, headers=headers)
        return self.http.post(path, data=data, headers=headers)

    def close(self) -> None:
        self.http.close()


def wait_until(condition: Callable[[], bool], limit: float = 20.0) -> None:
    """Wait for work done after an answer was sent; fail after `limit` seconds (a hang, not slowness)."""
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, "the work after the answer never happened"
        time.sleep(0.02)


SIGN_UP = {"email": "ada@example.org", "interests": "reward model", "frequency": "daily", "weekday": "0",
           "hour": "7", "tz": "Europe/Berlin", "action": "subscribe"}
