"""Fetch a source's bytes politely: conditional GET, timeouts, size limit, pacing, backoff, file URLs.

An adapter: the HTTP client, the clock and the pacer come in as parameters, and
the whole per-source memory is a `FetchState` that a caller can keep in a row.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urljoin, urlsplit

import httpx

from bot.sources.addresses import AddressRefused, IPAddress, Resolver, checked_addresses, system_resolve
from bot.sources.urls import redact_urls

__all__ = [
    "FetchState", "FetchOutcome", "HostPacer", "fetch", "next_attempt_after", "is_due", "user_agent",
]

Status = Literal["ok", "not_modified", "gone", "moved", "failed"]

ACCEPT = ("application/atom+xml, application/rss+xml, application/rdf+xml;q=0.9, "
          "application/xml;q=0.9, application/json;q=0.9, text/xml;q=0.8, */*;q=0.5")
BACKOFF_BASE = timedelta(minutes=5)
BACKOFF_CAP = timedelta(hours=12)
MAX_REDIRECTS = 5
_PERMANENT = (301, 308)
_TEMPORARY = (302, 303, 307)


@dataclass(frozen=True)
class FetchState:
    """What a source remembers between polls (one database row's worth)."""

    url: str
    etag: str | None = None
    last_modified: str | None = None
    failures: int = 0  # consecutive; reset by any success
    next_attempt_at: datetime | None = None  # UTC; None: due now


@dataclass(frozen=True)
class FetchOutcome:
    """The result of one poll. `state` is what to store; `body` is set for ok and moved.

    `moved` is `ok` at a new address: a chain of permanent redirects was followed to
    `new_url` (also in `state.url`). The store never rewrites a source's URL from it: it
    records the move for the operator to accept (`sources.record_poll`, `sources accept-move`).
    """

    status: Status
    state: FetchState
    body: bytes = b""
    new_url: str | None = None
    http_status: int | None = None
    error: str | None = None
    elapsed: float = 0.0  # seconds, pacing waits excluded

    @property
    def has_body(self) -> bool:
        """True when there is a new body to parse."""
        return self.status in ("ok", "moved")


def user_agent(version: str, base_url: str | None) -> str:
    """Return the User-Agent we send: `paperpost/VERSION (+BASE_URL)`."""
    return f"paperpost/{version} (+{base_url})" if base_url else f"paperpost/{version}"


def next_attempt_after(failures: int, *, base: timedelta = BACKOFF_BASE, cap: timedelta = BACKOFF_CAP) -> timedelta:
    """Return how long to wait after `failures` consecutive failures: base * 2**(n-1), at most `cap`."""
    if failures <= 0:
        return timedelta(0)
    # Bound the exponent so that a source failing for years cannot overflow.
    return min(cap, base * (2 ** min(failures - 1, 30)))


def is_due(state: FetchState, now: datetime) -> bool:
    """Return True when a source may be polled at `now` (its backoff has passed)."""
    return state.next_attempt_at is None or now >= state.next_attempt_at


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


class HostPacer:
    """Keep a minimum interval between requests to one host (arXiv asks for >= 3 s); thread-safe."""

    def __init__(self, *, default_interval: float = 0.0, arxiv_interval: float = 3.0,
                 intervals: dict[str, float] | None = None,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep):
        self.default_interval = default_interval
        self.arxiv_interval = arxiv_interval
        self.intervals = dict(intervals or {})
        self._clock = clock
        self._sleep = sleep
        self._next_slot: dict[str, float] = {}
        self._lock = threading.Lock()

    def interval_for(self, host: str) -> float:
        """Return the minimum number of seconds between two requests to `host`."""
        host = host.lower()
        if host in self.intervals:
            return self.intervals[host]
        if host == "arxiv.org" or host.endswith(".arxiv.org"):
            return self.arxiv_interval
        return self.default_interval

    def wait(self, url: str) -> float:
        """Sleep until a request to `url`'s host is allowed, reserve that slot; return the seconds slept."""
        host = (urlsplit(url).hostname or "").lower()
        if not host:
            return 0.0
        interval = self.interval_for(host)
        # All arXiv hosts (rss., export., www.) share one budget: arXiv counts requests, not hostnames.
        key = "arxiv.org" if host == "arxiv.org" or host.endswith(".arxiv.org") else host
        with self._lock:  # reserve under the lock, sleep outside it: other hosts are not held up
            now = self._clock()
            slot = max(now, self._next_slot.get(key, now))
            self._next_slot[key] = slot + interval
        delay = slot - now
        if delay > 0:
            self._sleep(delay)
        return max(delay, 0.0)


def _http_date(when: datetime | float) -> str:
    """Format a time as an HTTP date (what Last-Modified carries)."""
    seconds = when.timestamp() if isinstance(when, datetime) else when
    return formatdate(seconds, usegmt=True)


def _retry_after(value: str | None, now: datetime) -> datetime | None:
    """Return the time a Retry-After header (seconds or HTTP date) points to."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return now + timedelta(seconds=int(value))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def _failed(state: FetchState, now: datetime, error: str, *, http_status: int | None = None,
            retry_at: datetime | None = None, elapsed: float = 0.0) -> FetchOutcome:
    """Return a failed outcome with the failure counted and the next attempt pushed back."""
    failures = state.failures + 1
    next_at = now + next_attempt_after(failures)
    if retry_at is not None and retry_at > next_at:
        next_at = retry_at  # the server asked for longer than our backoff
    new_state = replace(state, failures=failures, next_attempt_at=next_at)
    return FetchOutcome("failed", new_state, http_status=http_status, error=error, elapsed=elapsed)


def _local_path(url: str) -> Path | None:
    """Return the file a `file://` URL or a plain path names; None for network URLs."""
    if url.startswith("file://"):
        return Path(unquote(urlsplit(url).path))
    if "://" not in url:
        return Path(url).expanduser()
    return None


def _fetch_file(path: Path, state: FetchState, max_bytes: int, now: datetime) -> FetchOutcome:
    """Read a local file; its mtime is Last-Modified, so an unchanged file is not_modified."""
    started = time.monotonic()
    try:
        info = path.stat()
        if not path.is_file():
            return _failed(state, now, f"{path} is not a file; give the path of a feed file")
        # mtime_ns and size make a finer validator than the 1 s resolution of an HTTP date.
        etag = f'"{info.st_mtime_ns:x}-{info.st_size:x}"'
        last_modified = _http_date(info.st_mtime)
        if state.etag == etag or (state.etag is None and state.last_modified == last_modified):
            ok_state = replace(state, failures=0, next_attempt_at=None)
            return FetchOutcome("not_modified", ok_state, elapsed=time.monotonic() - started)
        if info.st_size > max_bytes:
            return _failed(state, now, f"{path} is larger than the {max_bytes}-byte limit")
        with path.open("rb") as handle:
            body = handle.read(max_bytes + 1)
    except OSError as exc:
        return _failed(state, now, f"could not read {path}: {exc.strerror or exc}")
    if len(body) > max_bytes:
        return _failed(state, now, f"{path} is larger than the {max_bytes}-byte limit")
    new_state = FetchState(url=state.url, etag=etag, last_modified=last_modified)
    return FetchOutcome("ok", new_state, body=body, elapsed=time.monotonic() - started)


def _read_limited(response: httpx.Response, max_bytes: int, deadline: float) -> bytes | None:
    """Read a streamed body up to `max_bytes` (decoded); None as soon as it goes over.

    httpx's read timeout is per chunk; the deadline also stops a server that trickles bytes.
    """
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes and "content-encoding" not in response.headers:
        return None
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > max_bytes:
            return None  # stop reading: an endless or huge body never fills our memory
        chunks.append(chunk)
        if time.monotonic() > deadline:
            raise httpx.ReadTimeout("the body took too long", request=response.request)
    return b"".join(chunks)


def fetch(client: httpx.Client, state: FetchState, *, user_agent: str, max_bytes: int = 20_000_000,
          clock: Callable[[], datetime] = _utcnow, pacer: HostPacer | None = None,
          timeout: float = 30.0, resolve: Resolver = system_resolve) -> FetchOutcome:
    """Poll `state.url` once (conditional GET, redirects, size limit) and return what happened.

    Every hop is resolved once by `resolve`, its addresses checked (`addresses.checked_addresses`:
    link-local and metadata never; private or loopback only on the host of `state.url`), and the
    request goes to a checked address with the Host header and TLS name of the URL.
    Never raises for network or HTTP trouble: a failure is an outcome with an
    error sentence (credentials in URLs hidden), the failure counted and the next attempt backed off.
    """
    now = clock()
    path = _local_path(state.url)
    if path is not None:
        return _fetch_file(path, state, max_bytes, now)
    headers = {"User-Agent": user_agent, "Accept": ACCEPT}
    if state.etag:
        headers["If-None-Match"] = state.etag
    if state.last_modified:
        headers["If-Modified-Since"] = state.last_modified
    url = state.url
    own_host: str | None = None  # the host the operator typed, as the first hop spells it
    new_url: str | None = None
    permanent_so_far = True
    started = time.monotonic()
    paced = 0.0
    try:
        for hop in range(MAX_REDIRECTS + 1):
            if hop:
                problem = _redirect_problem(url)
                if problem:
                    return _failed(state, now, f"{redact_urls(state.url)} {problem}")
            target = httpx.URL(url)
            host = target.raw_host.decode("ascii").lower()
            own_host = own_host or host
            addresses = checked_addresses(host, target.port or _PORTS.get(target.scheme, 80),
                                          allow_local=host == own_host, resolve=resolve)
            if pacer is not None:
                paced += pacer.wait(url)
            with ExitStack() as stack:
                response = _open_pinned(client, stack, target, addresses, headers, timeout)
                code = response.status_code
                if code in _PERMANENT or code in _TEMPORARY:
                    location = response.headers.get("location")
                    if not location:
                        return _failed(state, now, f"{redact_urls(url)} answered HTTP {code} without a Location",
                                       http_status=code)
                    url = urljoin(url, location)
                    permanent_so_far = permanent_so_far and code in _PERMANENT
                    if permanent_so_far:
                        new_url = url  # remember only a chain of permanent moves
                    continue
                deadline = time.monotonic() + timeout
                outcome = _answer(response, state, url, new_url, now, max_bytes, deadline)
                return replace(outcome, elapsed=time.monotonic() - started - paced)
        return _failed(state, now, f"{redact_urls(state.url)} redirects more than {MAX_REDIRECTS} times; "
                                   "check the URL")
    except AddressRefused as exc:
        return _failed(state, now, f"refused to fetch {redact_urls(url)}: {exc}")
    except httpx.TimeoutException:
        return _failed(state, now, f"{redact_urls(url)} did not answer within {timeout:g} s",
                       elapsed=time.monotonic() - started - paced)
    except (httpx.HTTPError, httpx.InvalidURL, ValueError) as exc:  # ValueError: a Location that is no URL
        return _failed(state, now, redact_urls(f"could not fetch {url}: {exc or type(exc).__name__}"),
                       elapsed=time.monotonic() - started - paced)


_PORTS = {"http": 80, "https": 443}


def _redirect_problem(url: str) -> str | None:
    """Return why a redirect target may not be followed (not http(s), credentials), or None."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in _PORTS:
        return f"redirects to {redact_urls(url)!r}, which is not an http(s) URL"
    if "@" in parts.netloc:
        return f"redirects to {redact_urls(url)}, a URL with a user name or password"
    return None


def _open_pinned(client: httpx.Client, stack: ExitStack, target: httpx.URL, addresses: list[IPAddress],
                 headers: dict[str, str], timeout: float) -> httpx.Response:
    """Send the GET to the first of `addresses` that accepts a connection, as a request for `target`'s host.

    The Host header and the TLS server name (SNI, and so the certificate check) stay the URL's;
    `Connection: close` keeps a connection made for one host name out of the pool for another.
    """
    host_header = target.netloc.decode("ascii")
    extensions = {"sni_hostname": target.raw_host.decode("ascii")} if target.scheme == "https" else {}
    pinned_headers = {**headers, "Host": host_header, "Connection": "close"}
    for n, address in enumerate(addresses):
        try:
            return stack.enter_context(client.stream(
                "GET", target.copy_with(host=str(address)), headers=pinned_headers, timeout=timeout,
                follow_redirects=False, extensions=extensions))
        except httpx.ConnectError:
            if n == len(addresses) - 1:
                raise
    raise AssertionError("checked_addresses never returns an empty list")


def _answer(response: httpx.Response, state: FetchState, url: str, new_url: str | None,
            now: datetime, max_bytes: int, deadline: float) -> FetchOutcome:
    """Turn a final (non-redirect) response into an outcome and the state to store."""
    code = response.status_code
    if code == 304:
        kept = replace(state, url=new_url or state.url, failures=0, next_attempt_at=None,
                       etag=response.headers.get("etag") or state.etag,
                       last_modified=response.headers.get("last-modified") or state.last_modified)
        return FetchOutcome("not_modified", kept, new_url=new_url, http_status=code)
    if code == 410:
        return FetchOutcome("gone", state, http_status=code,
                            error=f"{redact_urls(url)} is gone (HTTP 410); the source should be removed or replaced")
    if code != 200:
        return _failed(state, now, f"{redact_urls(url)} answered HTTP {code} {response.reason_phrase}".rstrip(),
                       http_status=code, retry_at=_retry_after(response.headers.get("retry-after"), now))
    body = _read_limited(response, max_bytes, deadline)
    if body is None:
        return _failed(state, now, f"{redact_urls(url)} sent more than the {max_bytes}-byte limit; is it really a feed?",
                       http_status=code)
    fresh = FetchState(url=new_url or state.url, etag=response.headers.get("etag"),
                       last_modified=response.headers.get("last-modified"))
    return FetchOutcome("moved" if new_url else "ok", fresh, body=body, new_url=new_url, http_status=code)
