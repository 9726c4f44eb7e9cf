"""A fake Telegram Bot API server on loopback, speaking the real JSON shapes.

``POST /bot<token>/<method>`` with a JSON body; answers ``{"ok": true, "result": ...}``
or ``{"ok": false, "error_code": N, "description": ..., "parameters": {"retry_after":
S}}`` as https://core.telegram.org/bots/api describes. A wrong token gets Telegram's
``401 Unauthorized``. Faults are queued per method (``fail_next``); ``down`` makes every
call answer 502 Bad Gateway, as Telegram's front end does during an outage.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

TOKEN = "123456789:AAHfakeTOKENfortests_abcdefghijklmnop"
BOT_USERNAME = "bizagent_test_bot"


@dataclass
class FakeTelegram:
    token: str = TOKEN
    username: str = BOT_USERNAME
    sent: list[dict[str, Any]] = field(default_factory=list)
    edits: list[dict[str, Any]] = field(default_factory=list)
    answers: list[dict[str, Any]] = field(default_factory=list)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)
    webhook_url: str = ""
    down: bool = False
    faults: dict[str, list[tuple[int, float | None]]] = field(default_factory=dict)
    url: str = ""
    _next_message_id: int = 100
    _next_update_id: int = 5000
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # --- test helpers -----------------------------------------------------------------
    def fail_next(self, method: str, status: int, *, retry_after: float | None = None) -> None:
        self.faults.setdefault(method, []).append((status, retry_after))

    def update_add(self, **payload: Any) -> dict[str, Any]:
        with self._lock:
            self._next_update_id += 1
            update = {"update_id": self._next_update_id, **payload}
            self.updates.append(update)
        return update

    def start_message(self, *, user_id: int, text: str, username: str = "alice_tg") -> dict:
        """The update Telegram sends when a person opens ``t.me/<bot>?start=<token>``."""
        return {
            "message": {
                "message_id": 1,
                "from": {"id": user_id, "is_bot": False, "first_name": "A", "username": username},
                "chat": {"id": user_id, "type": "private"},
                "date": 1_700_000_000,
                "text": text,
            }
        }

    def press(self, *, user_id: int, data: str, message: dict[str, Any] | None = None) -> dict:
        """The ``callback_query`` update for pressing a button holding ``data``."""
        query: dict[str, Any] = {
            "id": f"cq{user_id}{len(self.calls)}",
            "from": {"id": user_id, "is_bot": False, "first_name": "A"},
            "chat_instance": "1",
            "data": data,
        }
        if message is not None:
            query["message"] = {
                "message_id": message["message_id"],
                "chat": message["chat"],
                "date": 1_700_000_000,
                "text": message["text"],
            }
        return {"update_id": 1, "callback_query": query}

    def buttons(self, message: dict[str, Any]) -> list[tuple[str, str]]:
        """(label, callback_data) of each inline button of a sent message."""
        rows = (message.get("reply_markup") or {}).get("inline_keyboard") or []
        return [(button["text"], button["callback_data"]) for row in rows for button in row]

    def count(self, method: str) -> int:
        return sum(1 for name, _ in self.calls if name == method)

    # --- the wire ---------------------------------------------------------------------
    def handle(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        prefix = f"/bot{self.token}/"
        if not path.startswith(prefix):
            return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
        method = path[len(prefix) :]
        with self._lock:
            self.calls.append((method, body))
            if self.down:
                return 502, {"ok": False, "error_code": 502, "description": "Bad Gateway"}
            queued = self.faults.get(method)
            if queued:
                status, retry_after = queued.pop(0)
                error: dict[str, Any] = {
                    "ok": False,
                    "error_code": status,
                    "description": {
                        429: f"Too Many Requests: retry after {retry_after}",
                        400: "Bad Request: chat not found",
                        403: "Forbidden: bot was blocked by the user",
                    }.get(status, "Internal Server Error"),
                }
                if retry_after is not None:
                    error["parameters"] = {"retry_after": retry_after}
                return status, error
            handler = getattr(self, f"_m_{method}", None)
            if handler is None:
                return 404, {"ok": False, "error_code": 404, "description": "Not Found"}
            return 200, {"ok": True, "result": handler(body)}

    def _m_getMe(self, body: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": 123456789,
            "is_bot": True,
            "first_name": "Bizagent",
            "username": self.username,
        }

    def _m_sendMessage(self, body: dict[str, Any]) -> dict[str, Any]:
        self._next_message_id += 1
        message = {
            "message_id": self._next_message_id,
            "from": {"id": 123456789, "is_bot": True, "first_name": "Bizagent"},
            "chat": {"id": body["chat_id"], "type": "private"},
            "date": 1_700_000_000,
            "text": body["text"],
        }
        if body.get("reply_markup"):
            message["reply_markup"] = body["reply_markup"]
        self.sent.append(message)
        return message

    def _m_editMessageText(self, body: dict[str, Any]) -> dict[str, Any]:
        self.edits.append(body)
        return {"message_id": body["message_id"], "chat": {"id": body["chat_id"]}, **body}

    def _m_editMessageReplyMarkup(self, body: dict[str, Any]) -> dict[str, Any]:
        self.edits.append(body)
        return {"message_id": body["message_id"], "chat": {"id": body["chat_id"]}}

    def _m_answerCallbackQuery(self, body: dict[str, Any]) -> bool:
        self.answers.append(body)
        return True

    def _m_getUpdates(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        offset = body.get("offset") or 0
        # Telegram forgets updates below the offset a client confirmed.
        self.updates = [u for u in self.updates if u["update_id"] >= offset]
        return list(self.updates)

    def _m_setWebhook(self, body: dict[str, Any]) -> bool:
        self.webhook_url = body["url"]
        return True

    def _m_deleteWebhook(self, body: dict[str, Any]) -> bool:
        self.webhook_url = ""
        return True

    def _m_getWebhookInfo(self, body: dict[str, Any]) -> dict[str, Any]:
        return {"url": self.webhook_url, "has_custom_certificate": False, "pending_update_count": 0}


def _handler_for(fake: FakeTelegram) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b"{}"
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                body = {}
            status, document = fake.handle(self.path, body if isinstance(body, dict) else {})
            data = json.dumps(document).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def telegram(settings) -> Iterator[FakeTelegram]:
    """The fake Bot API, running, with the settings pointing at it."""
    fake = FakeTelegram()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(fake))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    settings.TELEGRAM_BOT_TOKEN = fake.token
    settings.TELEGRAM_API_URL = fake.url
    settings.TELEGRAM_WEBHOOK_SECRET = None
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
