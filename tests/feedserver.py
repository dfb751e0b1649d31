"""A real HTTP server on 127.0.0.1 for fetch tests, scripted per path (200/304/301/410/500, slow, big)."""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Route:
    """How the server answers one path; `requests` records the headers of every request to it."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    etag: str | None = None  # answer 304 when If-None-Match matches
    last_modified: str | None = None  # answer 304 when If-Modified-Since matches
    delay: float = 0.0  # seconds to wait before answering
    chunks: int = 1  # send the body in this many writes (with `chunk_delay` between them)
    chunk_delay: float = 0.0
    send_length: bool = True  # False: no Content-Length, the body ends when the connection closes
    requests: list[dict[str, str]] = field(default_factory=list)


class _QuietServer(ThreadingHTTPServer):
    """A ThreadingHTTPServer that does not print a traceback when a client hangs up early."""

    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        pass  # clients that stop reading (size limit, timeout) are what several tests do


class FeedServer:
    """A threaded http.server whose answers are set with `route(path, ...)`; HTTPS with an `ssl_context`."""

    def __init__(self, ssl_context: ssl.SSLContext | None = None) -> None:
        self.routes: dict[str, Route] = {}
        handler = _handler_for(self)
        self._server = _QuietServer(("127.0.0.1", 0), handler)
        if ssl_context is not None:
            self._server.socket = ssl_context.wrap_socket(self._server.socket, server_side=True)
        self.scheme = "https" if ssl_context is not None else "http"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def base(self) -> str:
        """Return the server's base URL, `http://127.0.0.1:PORT` (or https)."""
        host, port = self._server.server_address[:2]
        return f"{self.scheme}://{host}:{port}"

    def url(self, path: str) -> str:
        """Return the full URL of `path`."""
        return self.base + path

    def route(self, path: str, **kwargs) -> Route:
        """Script the answer for `path` and return the route (its `requests` fill up as clients call)."""
        self.routes[path] = Route(**kwargs)
        return self.routes[path]

    def start(self) -> FeedServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _handler_for(server: FeedServer) -> type[BaseHTTPRequestHandler]:
    """Build a request handler class bound to `server`'s routes."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args) -> None:  # keep test output quiet
            pass

        def do_GET(self) -> None:
            route = server.routes.get(self.path)
            if route is None:
                self._send(404, b"not found", {})
                return
            route.requests.append({k.lower(): v for k, v in self.headers.items()})
            if route.delay:
                time.sleep(route.delay)
            inm = self.headers.get("If-None-Match")
            ims = self.headers.get("If-Modified-Since")
            if route.status == 200 and ((route.etag and inm == route.etag)
                                        or (route.last_modified and ims == route.last_modified and not inm)):
                self._send(304, b"", self._validators(route))
                return
            headers = {**self._validators(route), **route.headers}
            if not route.send_length:
                headers["Connection"] = "close"
                self.close_connection = True
            self._send(route.status, route.body, headers, route.chunks, route.chunk_delay,
                       route.send_length)

        @staticmethod
        def _validators(route: Route) -> dict[str, str]:
            out = {}
            if route.etag:
                out["ETag"] = route.etag
            if route.last_modified:
                out["Last-Modified"] = route.last_modified
            return out

        def _send(self, status: int, body: bytes, headers: dict[str, str], chunks: int = 1,
                  chunk_delay: float = 0.0, send_length: bool = True) -> None:
            try:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                if status != 304 and send_length:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if status == 304 or not body:
                    return
                step = max(1, len(body) // max(chunks, 1))
                for start in range(0, len(body), step):
                    self.wfile.write(body[start:start + step])
                    self.wfile.flush()
                    if chunk_delay:
                        time.sleep(chunk_delay)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client stopped reading (size limit, timeout): that is the point

    return Handler


@contextmanager
def running_server(ssl_context: ssl.SSLContext | None = None) -> Iterator[FeedServer]:
    """Run a FeedServer for the duration of a `with` block."""
    server = FeedServer(ssl_context).start()
    try:
        yield server
    finally:
        server.stop()
