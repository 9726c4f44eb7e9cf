"""Whop as a metric source: revenue, customers and ARPU read from Whop's v1 REST API.

Infrastructure only: it knows Whop's endpoints and JSON shapes and returns plain numbers
(amounts in the currency's minor unit); storing them as MetricSnapshots is the goals
app's business.

Wire facts this client relies on (Whop API v1, ``https://api.whop.com/api/v1``):

- ``Authorization: Bearer <key>``; lists take ``company_id`` and answer
  ``{"data": [...], "page_info": {"end_cursor", "has_next_page", …}}``; the next page
  is asked for with ``after=<end_cursor>``.
- A payment has ``status`` (``paid`` once money moved; a refund keeps it ``paid`` and
  sets ``refunded_amount``), ``total``/``subtotal``/``refunded_amount`` as JSON numbers
  in *major* units (``19.99``), a lower-case ``currency``, and ``paid_at``/``created_at``
  as ISO 8601 strings (older answers: Unix seconds; both are read).
- A membership has ``status`` (``active``, ``trialing``, ``past_due``, ``canceled``, …)
  and ``created_at``.

Money is never a float here: each number goes through ``Decimal(str(x))`` (the shortest
repr, so ``19.99`` stays 19.99 and not 19.989999…) and is scaled to the currency's minor
unit (JPY has none, USD two).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

import requests
from django.conf import settings

from bizagent.retry import Failure, RetryPolicy, call_with_retry, retry_after_seconds
from bizagent.webhooks import WebhookEvent, webhook_verify

logger = logging.getLogger(__name__)

#: (connect, read) seconds per request: a hung socket must not eat the retry budget.
HTTP_TIMEOUT = (10.0, 30.0)
#: Items asked for per page (Whop's lists take ``first``).
PAGE_SIZE = 100
#: Pages one listing may read before it stops with an error instead of running on: a
#: metric reading is one bounded unit of work (100,000 payments at the default).
MAX_PAGES = 1000
#: How long before a window a payment may have been created and still be paid inside
#: it (Whop retries a failed renewal for days). The listing is narrowed by
#: ``created_after`` to this, so a reading does not page through all history.
PAYMENT_LOOKBACK = timedelta(days=35)
#: Membership statuses that count as a paying customer. ``trialing`` is its own metric
#: (trials); ``past_due`` has not paid.
CUSTOMER_STATUSES = frozenset({"active"})

#: Whop's default: equal jitter, five tries, a minute of waiting at most per request.
WHOP_RETRY = RetryPolicy(attempts=5, base_delay=1.0, max_delay=20.0, budget=60.0, jitter="equal")

# ISO 4217 minor units where they are not 2. Anything unknown is taken as 2 decimals,
# the common case; the table only needs the exceptions.
_ZERO_DECIMAL = frozenset(
    [
        "BIF",
        "CLP",
        "DJF",
        "GNF",
        "ISK",
        "JPY",
        "KMF",
        "KRW",
        "PYG",
        "RWF",
        "UGX",
        "UYI",
        "VND",
        "VUV",
        "XAF",
        "XOF",
        "XPF",
    ]
)
_THREE_DECIMAL = frozenset(["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"])


class WhopError(Exception):
    """A Whop reading failed. ``transient`` says whether trying later may succeed."""

    transient: bool = False


class WhopNotConfiguredError(WhopError):
    """The source is off: ``BIZAGENT_WHOP_API_KEY`` (or the company id) is unset."""


class WhopAuthError(WhopError):
    """Whop refused the API key (401/403)."""


class WhopTransientError(WhopError):
    """Rate limit, server or network trouble; the same request may succeed later."""

    transient = True


class _HTTPStatusError(Exception):
    """A non-2xx answer, carried to ``classify`` with its response (for Retry-After)."""

    def __init__(self, response: requests.Response) -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.response = response


def currency_exponent(currency: str) -> int:
    """Decimal places of ``currency``'s minor unit (JPY 0, USD 2, KWD 3)."""
    code = currency.upper()
    if code in _ZERO_DECIMAL:
        return 0
    if code in _THREE_DECIMAL:
        return 3
    return 2


def amount_minor(value: object, *, currency: str, what: str = "amount") -> int:
    """``value`` (a JSON number or numeric string in major units) in minor units.

    ``Decimal(str(x))`` keeps what the JSON said (``19.99`` → 1999); a value with more
    places than the currency has is rounded half up, as a bank would. Booleans, NaN and
    infinities are refused with a message naming ``what``.
    """
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise WhopError(f"{what} must be a number, got {type(value).__name__}")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise WhopError(f"{what} must be a number, got {str(value)[:40]!r}") from None
    if not number.is_finite():
        raise WhopError(f"{what} must be a finite number, got {str(value)[:40]!r}")
    scaled = number.scaleb(currency_exponent(currency))
    return int(scaled.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _timestamp(value: object, *, what: str) -> datetime | None:
    """An aware datetime from Whop's ISO 8601 string (or legacy Unix seconds); None stays None."""
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, tz=UTC)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            parsed = None
        if parsed is not None:
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    raise WhopError(f"{what} must be an ISO 8601 time, got {str(value)[:40]!r}")


@dataclass(frozen=True)
class WhopPayment:
    """The parts of a Whop payment a revenue reading needs, money in minor units."""

    id: str
    status: str
    currency: str  # upper case, ISO 4217
    total: int
    refunded: int
    paid_at: datetime | None
    user_id: str | None

    @property
    def net(self) -> int:
        return self.total - self.refunded


def payment_parse(item: Mapping[str, Any]) -> WhopPayment:
    """One element of ``GET /payments``' ``data``; a missing or bad field names itself."""
    if not isinstance(item, Mapping):
        raise WhopError(f"a payment must be a JSON object, got {type(item).__name__}")
    pay_id = str(item.get("id") or "?")
    currency = item.get("currency")
    if not isinstance(currency, str) or not currency.strip():
        raise WhopError(f"payment {pay_id}: currency is missing")
    currency = currency.strip().upper()
    status = str(item.get("status") or "")
    total_raw = item.get("total")
    # An unpaid draft may carry no total yet; a paid one without a total is a bad answer.
    total = (
        0
        if total_raw is None and status != "paid"
        else amount_minor(total_raw, currency=currency, what=f"payment {pay_id}: total")
    )
    refunded_raw = item.get("refunded_amount")
    refunded = (
        0
        if refunded_raw is None
        else amount_minor(
            refunded_raw, currency=currency, what=f"payment {pay_id}: refunded_amount"
        )
    )
    user = item.get("user")
    user_id = user.get("id") if isinstance(user, Mapping) else None
    return WhopPayment(
        id=pay_id,
        status=status,
        currency=currency,
        total=total,
        refunded=refunded,
        paid_at=_timestamp(item.get("paid_at"), what=f"payment {pay_id}: paid_at"),
        user_id=str(user_id) if user_id else None,
    )


def payments_revenue(
    payments: list[WhopPayment], *, start: datetime, end: datetime
) -> dict[str, int]:
    """Net revenue per currency: paid payments with ``start <= paid_at < end``, less refunds.

    A currency whose payments were all refunded stays in the result at 0, so a reading
    says "nothing net" rather than "no data".
    """
    revenue: dict[str, int] = {}
    for payment in _paid_in(payments, start=start, end=end):
        revenue[payment.currency] = revenue.get(payment.currency, 0) + payment.net
    return revenue


def payments_arpu(payments: list[WhopPayment], *, start: datetime, end: datetime) -> dict[str, int]:
    """Net revenue per paying user in the window, per currency, in minor units (half up).

    Payers are told apart by Whop user id (a payment without one counts as its own
    payer); a currency with no payer is left out rather than divided by zero.
    """
    revenue: dict[str, int] = {}
    payers: dict[str, set[str]] = {}
    for payment in _paid_in(payments, start=start, end=end):
        revenue[payment.currency] = revenue.get(payment.currency, 0) + payment.net
        payers.setdefault(payment.currency, set()).add(payment.user_id or f"payment:{payment.id}")
    return {
        currency: int(
            (Decimal(amount) / len(payers[currency])).quantize(Decimal(1), rounding=ROUND_HALF_UP)
        )
        for currency, amount in revenue.items()
    }


def _paid_in(
    payments: list[WhopPayment], *, start: datetime, end: datetime
) -> Iterator[WhopPayment]:
    for payment in payments:
        if payment.status == "paid" and payment.paid_at and start <= payment.paid_at < end:
            yield payment


def _window_check(start: datetime, end: datetime) -> None:
    if start.tzinfo is None or end.tzinfo is None:
        # A naive time would be read in whatever zone the server runs in: refuse it.
        raise ValueError("start and end must be timezone-aware datetimes")
    if end <= start:
        raise ValueError(f"end ({end.isoformat()}) must be after start ({start.isoformat()})")


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


class WhopClient:
    """One company's Whop API. Build it with ``whop_client`` (from settings) or directly."""

    def __init__(
        self,
        *,
        api_key: str,
        company_id: str,
        api_url: str,
        policy: RetryPolicy = WHOP_RETRY,
        max_pages: int = MAX_PAGES,
        sleep: Callable[[float], None] = time.sleep,
        rand: Callable[[], float] = random.random,
        session: requests.Session | None = None,
    ) -> None:
        self._api_key = api_key
        self.company_id = company_id
        self.api_url = api_url.rstrip("/")
        self.policy = policy
        self.max_pages = max_pages
        self._sleep = sleep
        self._rand = rand
        self._session = session or requests.Session()

    def __repr__(self) -> str:  # never the key
        return f"WhopClient(company_id={self.company_id!r}, api_url={self.api_url!r})"

    # --- transport --------------------------------------------------------------------
    def _get_once(self, path: str, params: Mapping[str, str | int]) -> dict[str, Any]:
        response = self._session.get(
            f"{self.api_url}{path}",
            params=dict(params),
            headers={"Authorization": f"Bearer {self._api_key}", "Accept": "application/json"},
            timeout=HTTP_TIMEOUT,
            # A redirect would carry the bearer key to wherever it points: not followed.
            allow_redirects=False,
        )
        if not 200 <= response.status_code < 300:
            raise _HTTPStatusError(response)
        try:
            document = response.json()
        except ValueError:
            raise WhopError(
                f"GET {path}: Whop answered HTTP {response.status_code} with a body that is "
                f"not JSON ({response.headers.get('Content-Type') or 'no content type'})"
            ) from None
        if not isinstance(document, dict):
            raise WhopError(f"GET {path}: expected a JSON object, got {type(document).__name__}")
        return document

    def _classify(self, path: str, exc: Exception) -> Failure | None:
        if isinstance(exc, WhopError):
            return Failure(error=exc, retryable=exc.transient)
        if isinstance(exc, _HTTPStatusError):
            status = exc.response.status_code
            detail = _error_message(exc.response)
            if status == 429 or status >= 500:
                error: WhopError = WhopTransientError(f"GET {path}: HTTP {status}{detail}")
                return Failure(error=error, retryable=True, retry_after=retry_after_seconds(exc))
            if status in (401, 403):
                error = WhopAuthError(
                    f"GET {path}: Whop refused BIZAGENT_WHOP_API_KEY (HTTP {status}){detail}"
                )
                return Failure(error=error, retryable=False)
            return Failure(error=WhopError(f"GET {path}: HTTP {status}{detail}"), retryable=False)
        if isinstance(exc, requests.RequestException):
            # requests' messages name the URL, never the headers, so the key stays out.
            return Failure(
                error=WhopTransientError(f"GET {path}: cannot reach Whop: {type(exc).__name__}"),
                retryable=True,
            )
        return None

    def _get(self, path: str, params: Mapping[str, str | int]) -> dict[str, Any]:
        def give_up(failure: Failure, attempt: int) -> WhopError:
            return WhopTransientError(
                f"gave up after {attempt} attempts ({self.policy.budget:.0f}s retry budget): "
                f"{failure.error}"
            )

        return call_with_retry(
            lambda: self._get_once(path, params),
            policy=self.policy,
            classify=lambda exc: self._classify(path, exc),
            what=f"whop: GET {path}",
            on_give_up=give_up,
            sleep=self._sleep,
            rand=self._rand,
        )

    def list_all(self, path: str, params: Mapping[str, str | int]) -> list[dict[str, Any]]:
        """Every element of a cursor list, following ``page_info`` to its end.

        Stops with an error past ``max_pages`` or when a cursor repeats (a server loop),
        never with a silently partial answer.
        """
        items: list[dict[str, Any]] = []
        seen: set[str] = set()
        query: dict[str, str | int] = {"company_id": self.company_id, "first": PAGE_SIZE, **params}
        for _page in range(self.max_pages):
            document = self._get(path, query)
            data = document.get("data")
            page_info = document.get("page_info")
            if not isinstance(data, list) or not isinstance(page_info, dict):
                raise WhopError(f"GET {path}: the answer has no data list or page_info object")
            items.extend(data)
            cursor = page_info.get("end_cursor")
            if not page_info.get("has_next_page") or not data:
                return items
            if not isinstance(cursor, str) or not cursor or cursor in seen:
                raise WhopError(f"GET {path}: has_next_page without a new end_cursor")
            seen.add(cursor)
            query["after"] = cursor
        raise WhopError(
            f"GET {path}: more than {self.max_pages} pages of {PAGE_SIZE}; read a shorter window"
        )

    # --- readings ---------------------------------------------------------------------
    def payments(self, *, start: datetime, end: datetime) -> list[WhopPayment]:
        """Payments that may have been paid in ``[start, end)`` (created in the lookback)."""
        _window_check(start, end)
        raw = self.list_all(
            "/payments",
            {"created_after": _iso(start - PAYMENT_LOOKBACK), "created_before": _iso(end)},
        )
        try:
            return [payment_parse(item) for item in raw]
        except WhopError as exc:
            raise WhopError(f"GET /payments: {exc}") from None

    def revenue(self, *, start: datetime, end: datetime) -> dict[str, int]:
        return payments_revenue(self.payments(start=start, end=end), start=start, end=end)

    def arpu(self, *, start: datetime, end: datetime) -> dict[str, int]:
        return payments_arpu(self.payments(start=start, end=end), start=start, end=end)

    def customers(self, *, on: datetime) -> int:
        """Memberships active now that had started by ``on``.

        Whop reports a membership's current status only, so a past ``on`` cannot count
        those that were active then and have ended since: read it on the day.
        """
        if on.tzinfo is None:
            raise ValueError("on must be a timezone-aware datetime")
        raw = self.list_all("/memberships", {"created_before": _iso(on)})
        count = 0
        for item in raw:
            if not isinstance(item, Mapping):
                raise WhopError("a membership must be a JSON object")
            created = _timestamp(
                item.get("created_at"), what=f"membership {item.get('id')}: created_at"
            )
            if item.get("status") in CUSTOMER_STATUSES and (created is None or created <= on):
                count += 1
        return count


def _error_message(response: requests.Response) -> str:
    """Whop's ``{"error": {"message": …}}`` text, shortened, or nothing."""
    try:
        body = response.json()
    except ValueError:
        return ""
    error = body.get("error") if isinstance(body, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    return f": {str(message)[:200]}" if message else ""


def whop_enabled() -> bool:
    """Whether the Whop source is on (``BIZAGENT_WHOP_API_KEY`` set)."""
    return bool(getattr(settings, "WHOP_API_KEY", None))


def whop_client(**options: Any) -> WhopClient:
    """The client from settings; ``WhopNotConfiguredError`` when the source is off."""
    api_key = getattr(settings, "WHOP_API_KEY", None)
    company_id = getattr(settings, "WHOP_COMPANY_ID", None)
    if not api_key:
        raise WhopNotConfiguredError("the Whop source is off: BIZAGENT_WHOP_API_KEY is not set")
    if not company_id:
        raise WhopNotConfiguredError("BIZAGENT_WHOP_COMPANY_ID is not set")
    return WhopClient(
        api_key=api_key, company_id=company_id, api_url=settings.WHOP_API_URL, **options
    )


def whop_revenue(
    *, start: datetime, end: datetime, client: WhopClient | None = None
) -> dict[str, int]:
    """Net revenue in ``[start, end)`` per currency (minor units): paid less refunded."""
    return (client or whop_client()).revenue(start=start, end=end)


def whop_customers(*, on: datetime, client: WhopClient | None = None) -> int:
    """Active (paying) memberships at ``on``."""
    return (client or whop_client()).customers(on=on)


def whop_arpu(
    *, start: datetime, end: datetime, client: WhopClient | None = None
) -> dict[str, int]:
    """Net revenue per paying user in ``[start, end)`` per currency (minor units)."""
    return (client or whop_client()).arpu(start=start, end=end)


def whop_webhook_verify(
    *, headers: Mapping[str, str], body: bytes, now: float | None = None
) -> WebhookEvent:
    """A Whop delivery (``payment.succeeded``, ``membership.activated``, …) checked
    against ``BIZAGENT_WHOP_WEBHOOK_SECRET``; dedupe by the returned ``id`` is the caller's."""
    secret = getattr(settings, "WHOP_WEBHOOK_SECRET", None)
    if not secret:
        raise WhopNotConfiguredError("BIZAGENT_WHOP_WEBHOOK_SECRET is not set")
    return webhook_verify(secret=secret, headers=headers, body=body, now=now)
