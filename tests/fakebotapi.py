"""A fake Telegram Bot API server on 127.0.0.1 for tests: the real python-telegram-bot client talks to it.

Point the client at `server.base_url` (python-telegram-bot `base_url` semantics:
requests go to `{base_url}{token}/{method}`). It implements getMe, getUpdates
(serving scripted updates, long polling, 409 for a second consumer or while a
webhook is set), sendMessage, editMessageText, answerCallbackQuery, setWebhook
and deleteWebhook; it records every call with its time, checks HTML parse mode
as Telegram does (tests/telegram_html.py: allowed tags, entities, 4096 UTF-16
units), and answers chosen chats with 429 (retry_after), 403, 400 or
`migrate_to_chat_id`.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

from telegram_html import TelegramHTMLError, check_message

TOKEN = "123456:TEST-token"
BOT_USER = {"id": 123456, "is_bot": True, "first_name": "paperpost", "username": "paperpost_test_bot"}


@dataclass(frozen=True)
class Call:
    at: float  # time.time() when the server received it
    method: str
    params: dict[str, Any]

    @property
    def chat_id(self) -> str | None:
        value = self.params.get("chat_id")
        return None if value is None else str(value)


@dataclass
class Rule:
    """How to answer sendMessage for one chat: `times` answers (None: every time) with this status."""

    status: int
    description: str
    times: int | None = 1
    parameters: dict[str, Any] = field(default_factory=dict)
    after: int = 0  # let this many messages through first
    delay: float = 0.0  # seconds to wait before answering (a timeout on the client's side)
    raw: bytes | None = None  # a body that is not the Bot API's JSON


class FakeBotAPI:
    """The server; `start()` then `stop()` (or use as a context manager)."""

    def __init__(self, token: str = TOKEN, *, on_call: Callable[[Call], None] | None = None):
        self.token = token
        self.calls: list[Call] = []
        self.on_call = on_call
        self.rules: dict[str, list[Rule]] = {}
        self.webhook: dict[str, Any] | None = None
        self._updates: list[dict[str, Any]] = []
        self._next_update_id = 1000
        self._next_message_id = 1
        self.messages: dict[tuple[str, int], dict[str, Any]] = {}  # (chat, message id) -> the message as it is now
        self._cond = threading.Condition()
        self._polling = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-bot-api", daemon=True)

    # Running ---------------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/bot"

    def start(self) -> FakeBotAPI:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeBotAPI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # Scripting -------------------------------------------------------------------------------------

    def user_writes(self, chat_id: int | str, text: str, *, first_name: str = "Ada") -> int:
        """Queue a private-chat message from the user `chat_id`; its update id."""
        chat = {"id": int(chat_id), "type": "private", "first_name": first_name}
        message = {"message_id": self._message_id(), "date": int(time.time()), "chat": chat,
                   "from": {"id": int(chat_id), "is_bot": False, "first_name": first_name}, "text": text}
        if text.startswith("/"):
            command = text.split()[0]
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        return self._queue({"message": message})

    def user_presses(self, chat_id: int | str, message_id: int, data: str) -> int:
        """Queue a press of an inline button with callback `data` under message `message_id` of chat `chat_id`."""
        chat = {"id": int(chat_id), "type": "private", "first_name": "Ada"}
        shown = self.messages.get((str(chat_id), message_id), {"message_id": message_id, "date": int(time.time()),
                                                                  "chat": chat, "text": "?"})
        query = {"id": f"cb{self._next_update_id}", "from": {"id": int(chat_id), "is_bot": False, "first_name": "Ada"},
                 "chat_instance": str(chat_id), "data": data, "message": shown}
        return self._queue({"callback_query": query})

    def update_json(self, update_id: int) -> dict[str, Any]:
        with self._cond:
            return next(u for u in self._updates if u["update_id"] == update_id)

    def fail(self, chat_id: int | str, status: int, *, times: int | None = 1, retry_after: int | None = None,
             description: str | None = None, migrate_to: int | None = None, after: int = 0, delay: float = 0.0,
             raw: bytes | None = None) -> None:
        """Answer sendMessage to `chat_id` with `status` the next `times` times (None: always), `after` accepted ones."""
        parameters: dict[str, Any] = {}
        if retry_after is not None:
            parameters["retry_after"] = retry_after
        if migrate_to is not None:
            parameters["migrate_to_chat_id"] = migrate_to
        text = description or {429: f"Too Many Requests: retry after {retry_after}", 403: "Forbidden: bot was blocked "
                               "by the user", 400: "Bad Request: chat not found"}.get(status, "error")
        with self._cond:
            self.rules.setdefault(str(chat_id), []).append(Rule(status, text, times, parameters, after, delay, raw))

    def sent(self, chat_id: int | str | None = None) -> list[Call]:
        """The sendMessage calls that were accepted (to `chat_id`, or to anyone)."""
        return [c for c in self.calls if c.method == "sendMessage" and c.params.get("_accepted")
                and (chat_id is None or c.chat_id == str(chat_id))]

    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.02)
        return predicate()

    # Internals -------------------------------------------------------------------------------------

    def _message_id(self) -> int:
        with self._cond:
            self._next_message_id += 1
            return self._next_message_id

    def _queue(self, body: dict[str, Any]) -> int:
        with self._cond:
            self._next_update_id += 1
            self._updates.append({"update_id": self._next_update_id, **body})
            self._cond.notify_all()
            return self._next_update_id

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the real API: no new connection per call

            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                status, payload = fake._dispatch(self.path, self.headers.get("Content-Type", ""), body)
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST

        return Handler

    def _dispatch(self, path: str, content_type: str, body: bytes) -> tuple[int, dict[str, Any]]:
        prefix = f"/bot{self.token}/"
        if not path.startswith(prefix):
            return 404, {"ok": False, "error_code": 404, "description": "Not Found"}
        method = path[len(prefix):].split("?")[0]
        params = _params(content_type, body)
        call = Call(time.time(), method, params)
        with self._cond:
            self.calls.append(call)
        if self.on_call is not None:
            self.on_call(call)
        answer = getattr(self, f"_api_{method}", None)
        if answer is None:
            return 404, {"ok": False, "error_code": 404, "description": "Not Found: method not found"}
        return answer(params)

    def _api_getMe(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:  # noqa: N802
        return _ok(BOT_USER)

    def _api_getUpdates(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:  # noqa: N802
        offset = int(params.get("offset") or 0)
        timeout = min(float(params.get("timeout") or 0), 2.0)
        with self._cond:
            if self.webhook is not None:
                return _error(409, "Conflict: can't use getUpdates method while webhook is active")
            if self._polling:
                return _error(409, "Conflict: terminated by other getUpdates request")
            self._polling += 1
            try:
                if offset:
                    self._updates = [u for u in self._updates if u["update_id"] >= offset]  # confirmed: forgotten
                deadline = time.monotonic() + timeout
                while not self._updates and time.monotonic() < deadline:
                    self._cond.wait(deadline - time.monotonic())
                return _ok(list(self._updates[:int(params.get("limit") or 100)]))
            finally:
                self._polling -= 1

    def _api_sendMessage(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:  # noqa: N802
        chat = str(params.get("chat_id"))
        rule: Rule | None = None
        with self._cond:
            rules = self.rules.get(chat, [])
            if rules and rules[0].after > 0:
                rules[0].after -= 1
            elif rules:
                rule = rules[0]
                if rule.times is not None:
                    rule.times -= 1
                    if rule.times <= 0:
                        rules.pop(0)
        if rule is not None:
            if rule.delay:
                time.sleep(rule.delay)
            if rule.raw is not None:
                return rule.status, rule.raw  # type: ignore[return-value]
            return _error(rule.status, rule.description, rule.parameters)
        problem = _check(params)
        if problem:
            return _error(400, f"Bad Request: {problem}")
        message = {"message_id": self._message_id(), "date": int(time.time()),
                   "chat": {"id": int(chat), "type": "private"}, "text": params.get("text", "")}
        if "reply_markup" in params:
            message["reply_markup"] = params["reply_markup"]
        params["_accepted"] = True
        params["_message_id"] = message["message_id"]
        self.messages[(chat, message["message_id"])] = message
        return _ok(message)

    def _api_editMessageText(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:  # noqa: N802
        chat, message_id = str(params.get("chat_id")), int(params.get("message_id") or 0)
        shown = self.messages.get((chat, message_id))
        if shown is None:
            return _error(400, "Bad Request: message to edit not found")
        problem = _check(params)
        if problem:
            return _error(400, f"Bad Request: {problem}")
        shown = {**shown, "text": params.get("text", ""), "edit_date": int(time.time())}
        shown.pop("reply_markup", None)
        if "reply_markup" in params:
            shown["reply_markup"] = params["reply_markup"]
        self.messages[(chat, message_id)] = shown
        params["_accepted"] = True
        return _ok(shown)

    def _api_answerCallbackQuery(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:  # noqa: N802
        return _ok(True)

    def _api_setWebhook(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:  # noqa: N802
        self.webhook = dict(params)
        return _ok(True)

    def _api_deleteWebhook(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:  # noqa: N802
        self.webhook = None
        return _ok(True)


def _params(content_type: str, body: bytes) -> dict[str, Any]:
    """python-telegram-bot posts form fields whose values are JSON (strings as they are); or a JSON body."""
    if not body:
        return {}
    if "json" in content_type:
        return dict(json.loads(body))
    params: dict[str, Any] = {}
    for name, value in parse_qsl(body.decode(), keep_blank_values=True):
        try:
            params[name] = json.loads(value) if name != "text" else value
        except ValueError:
            params[name] = value
    return params


def _check(params: dict[str, Any]) -> str | None:
    """Telegram's checks on a text message: HTML entities and length, and the inline keyboard's limits."""
    text = str(params.get("text", ""))
    if params.get("parse_mode") == "HTML":
        try:
            check_message(text)
        except TelegramHTMLError as exc:
            return f"can't parse entities: {exc}"
    elif not text or len(text.encode("utf-16-le")) // 2 > 4096:
        return "message is too long" if text else "message text is empty"
    markup = params.get("reply_markup")
    if markup:
        rows = markup.get("inline_keyboard", [])
        buttons = [b for row in rows for b in row]
        if len(buttons) > 100 or any(len(row) > 8 for row in rows):
            return "reply markup is too long"
        for button in buttons:
            if not 1 <= len(button.get("text", "")) <= 64:
                return "BUTTON_TEXT_INVALID"
            if "callback_data" in button and not 1 <= len(button["callback_data"].encode()) <= 64:
                return "BUTTON_DATA_INVALID"
    return None


def _ok(result: Any) -> tuple[int, dict[str, Any]]:
    return 200, {"ok": True, "result": result}


def _error(status: int, description: str, parameters: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if parameters:
        body["parameters"] = parameters
    return status, body
