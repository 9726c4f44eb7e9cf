"""A fake Whop API v1 on a loopback port, speaking Whop's real wire shapes.

``GET /api/v1/payments`` and ``GET /api/v1/memberships`` answer
``{"data": [...], "page_info": {"end_cursor", "start_cursor", "has_next_page",
"has_previous_page"}}`` with ``first``/``after`` cursor pagination, honour
``company_id``, ``created_after`` and ``created_before``, and demand
``Authorization: Bearer <key>`` (401 with Whop's error body otherwise). Payments carry
``total``/``subtotal``/``refunded_amount`` as JSON numbers in major units and ISO 8601
times, as Whop's v1 does.

Faults: ``fail_next(status, headers=…, body=…)`` queues raw answers served before the
normal ones (429 with ``Retry-After``, 503, a body that is not JSON). Every request is
recorded (path, query, Authorization) so tests can see what went over the wire.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

API_KEY = "whop_test_key_Zm9vYmFyYmF6cXV4"
COMPANY_ID = "biz_T3stC0mpany1"


@dataclass
class Fault:
    status: int
    headers: dict[str, str]
    body: bytes


@dataclass
class Request:
    path: str
    query: dict[str, str]
    authorization: str | None


@dataclass
class FakeWhop:
    api_key: str = API_KEY
    company_id: str = COMPANY_ID
    payments: list[dict[str, Any]] = field(default_factory=list)
    memberships: list[dict[str, Any]] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)
    base_url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fail_next(
        self, status: int, *, headers: dict[str, str] | None = None, body: bytes | None = None
    ) -> None:
        if body is None:
            body = json.dumps({"error": {"type": "error", "message": f"fake {status}"}}).encode()
        self.faults.append(
            Fault(status, {"Content-Type": "application/json", **(headers or {})}, body)
        )

    def add_payment(
        self,
        *,
        total: float | int,
        currency: str = "usd",
        paid_at: str | None = "2025-06-10T12:00:00.000Z",
        created_at: str | None = None,
        status: str = "paid",
        refunded_amount: float | int | None = 0,
        user_id: str | None = None,
    ) -> dict[str, Any]:
        number = len(self.payments) + 1
        payment = {
            "id": f"pay_{number:014d}",
            "status": status,
            "substatus": "refunded"
            if refunded_amount and refunded_amount >= total
            else "succeeded",
            "refundable": True,
            "retryable": False,
            "voidable": False,
            "created_at": created_at or paid_at or "2025-06-10T11:59:00.000Z",
            "paid_at": paid_at,
            "last_payment_attempt": paid_at,
            "refunded_at": "2025-06-11T00:00:00.000Z" if refunded_amount else None,
            "plan": {"id": "plan_xxxxxxxxxxxxx"},
            "product": {"id": "prod_xxxxxxxxxxxxx", "title": "Membership", "route": "m"},
            "user": {
                "id": user_id or f"user_{number:013d}",
                "name": "Alice",
                "username": "alice",
                "email": "alice@example.com",
            },
            "membership": {"id": f"mem_{number:014d}", "status": "active"},
            "company": {"id": self.company_id, "title": "Test Co", "route": "test-co"},
            "currency": currency,
            "total": total,
            "subtotal": total,
            "usd_total": total if currency == "usd" else None,
            "refunded_amount": refunded_amount,
            "amount_after_fees": total,
            "billing_reason": "subscription_create",
        }
        self.payments.append(payment)
        return payment

    def add_membership(
        self, *, status: str = "active", created_at: str = "2025-06-01T00:00:00.000Z"
    ) -> dict[str, Any]:
        number = len(self.memberships) + 1
        membership = {
            "id": f"mem_{number:014d}",
            "status": status,
            "created_at": created_at,
            "updated_at": created_at,
            "member": {"id": f"mber_{number:013d}"},
            "user": {"id": f"user_{number:013d}", "username": "bob", "name": "Bob"},
            "renewal_period_start": created_at,
            "renewal_period_end": None,
            "cancel_at_period_end": False,
            "canceled_at": None,
            "currency": "usd",
            "company": {"id": self.company_id, "title": "Test Co"},
            "plan": {"id": "plan_xxxxxxxxxxxxx"},
            "metadata": {},
        }
        self.memberships.append(membership)
        return membership

    def paths(self) -> list[str]:
        return [request.path for request in self.requests]


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _cursor(index: int) -> str:
    return base64.b64encode(f"cursor:{index}".encode()).decode()


def _index(cursor: str) -> int:
    return int(base64.b64decode(cursor).decode().split(":")[1])


def _handler(fake: FakeWhop) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _json(self, status: int, document: Any) -> None:
            self._send(status, json.dumps(document).encode(), {"Content-Type": "application/json"})

        def do_GET(self) -> None:
            url = urlparse(self.path)
            query = {key: values[-1] for key, values in parse_qs(url.query).items()}
            auth = self.headers.get("Authorization")
            with fake.lock:
                fake.requests.append(Request(url.path, query, auth))
                fault = fake.faults.pop(0) if fake.faults else None
            if fault is not None:
                return self._send(fault.status, fault.body, fault.headers)
            if auth != f"Bearer {fake.api_key}":
                return self._json(
                    401, {"error": {"type": "unauthorized", "message": "Invalid API key"}}
                )
            collections = {
                "/api/v1/payments": fake.payments,
                "/api/v1/memberships": fake.memberships,
            }
            if url.path not in collections:
                return self._json(404, {"error": {"type": "not_found", "message": "Not found"}})
            if query.get("company_id") != fake.company_id:
                return self._json(
                    403, {"error": {"type": "forbidden", "message": "company_id not allowed"}}
                )
            items = list(collections[url.path])
            if "created_after" in query:
                items = [i for i in items if _when(i["created_at"]) > _when(query["created_after"])]
            if "created_before" in query:
                items = [
                    i for i in items if _when(i["created_at"]) < _when(query["created_before"])
                ]
            first = int(query.get("first", "10"))
            start = _index(query["after"]) + 1 if "after" in query else 0
            page = items[start : start + first]
            end = start + len(page) - 1
            self._json(
                200,
                {
                    "data": page,
                    "page_info": {
                        "end_cursor": _cursor(end) if page else None,
                        "start_cursor": _cursor(start) if page else None,
                        "has_next_page": start + first < len(items),
                        "has_previous_page": start > 0,
                    },
                },
            )

    return Handler


@pytest.fixture
def whop_fake() -> Iterator[FakeWhop]:
    """A running fake Whop API; ``base_url`` is its v1 root (``http://127.0.0.1:N/api/v1``)."""
    fake = FakeWhop()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    fake.base_url = f"http://127.0.0.1:{server.server_address[1]}/api/v1"
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
