"""bizagent.whop against the fake Whop API v1 on loopback (real endpoints and JSON shapes)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from bizagent.retry import RetryPolicy
from bizagent.whop import (
    WhopAuthError,
    WhopClient,
    WhopError,
    WhopNotConfiguredError,
    WhopTransientError,
    amount_minor,
    whop_arpu,
    whop_client,
    whop_customers,
    whop_enabled,
    whop_revenue,
)
from tests.bizagent.whop_fake import API_KEY, COMPANY_ID
from tests.processes import clean_env, python_run

START = datetime(2025, 6, 1, tzinfo=UTC)
END = datetime(2025, 7, 1, tzinfo=UTC)


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def client_for(fake, *, sleeps=None, **options) -> WhopClient:
    return WhopClient(
        api_key=API_KEY,
        company_id=COMPANY_ID,
        api_url=fake.base_url,
        sleep=sleeps if sleeps is not None else Sleeps(),
        rand=lambda: 0.0,
        **options,
    )


@pytest.fixture
def whop_settings(settings, whop_fake):
    settings.WHOP_API_KEY = API_KEY
    settings.WHOP_COMPANY_ID = COMPANY_ID
    settings.WHOP_API_URL = whop_fake.base_url
    return settings


# --- amounts ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "currency", "expected"),
    [
        (19.99, "usd", 1999),
        (0.1 + 0.2, "usd", 30),  # 0.30000000000000004: half-up to the cent
        (1234567.89, "USD", 123456789),
        (2000000, "jpy", 2000000),
        (2000000.0, "JPY", 2000000),
        (980.5, "jpy", 981),
        ("4.99", "eur", 499),
        (1.234, "kwd", 1234),
    ],
)
def test_it_converts_amounts_into_exact_minor_units(value, currency, expected):
    assert amount_minor(value, currency=currency) == expected


@pytest.mark.parametrize("value", [True, None, "twelve", float("nan"), float("inf"), [1]])
def test_it_refuses_an_amount_that_is_not_a_finite_number(value):
    with pytest.raises(WhopError, match="total"):
        amount_minor(value, currency="usd", what="total")


# --- revenue ------------------------------------------------------------------------------
def test_it_sums_paid_payments_in_the_window_per_currency_exactly(whop_fake):
    whop_fake.add_payment(total=19.99, currency="usd")
    whop_fake.add_payment(total=0.01, currency="usd")
    whop_fake.add_payment(total=29800, currency="jpy")
    whop_fake.add_payment(total=1980.0, currency="jpy")
    assert client_for(whop_fake).revenue(start=START, end=END) == {"USD": 2000, "JPY": 31780}


def test_it_subtracts_refunds_full_and_partial(whop_fake):
    whop_fake.add_payment(total=50.0, currency="usd", refunded_amount=50.0)
    whop_fake.add_payment(total=30.0, currency="usd", refunded_amount=12.5)
    whop_fake.add_payment(total=10000, currency="jpy", refunded_amount=10000)
    assert client_for(whop_fake).revenue(start=START, end=END) == {"USD": 1750, "JPY": 0}


def test_it_counts_only_paid_payments_paid_inside_the_window(whop_fake):
    whop_fake.add_payment(total=1.0, paid_at="2025-05-31T23:59:59.000Z")  # before
    whop_fake.add_payment(total=2.0, paid_at="2025-06-01T00:00:00.000Z")  # first instant
    whop_fake.add_payment(total=4.0, paid_at="2025-07-01T00:00:00.000Z")  # end is excluded
    whop_fake.add_payment(total=8.0, status="open", paid_at=None, created_at="2025-06-02T00:00:00Z")
    whop_fake.add_payment(
        total=16.0, status="void", paid_at=None, created_at="2025-06-02T00:00:00Z"
    )
    # Created before the window, paid inside it (a retried renewal): it counts.
    whop_fake.add_payment(
        total=32.0, created_at="2025-05-20T00:00:00.000Z", paid_at="2025-06-03T00:00:00.000Z"
    )
    assert client_for(whop_fake).revenue(start=START, end=END) == {"USD": 3400}


def test_it_follows_the_cursor_to_the_last_page(whop_fake):
    for _ in range(250):
        whop_fake.add_payment(total=1.0)
    assert client_for(whop_fake).revenue(start=START, end=END) == {"USD": 25000}
    payments = [r for r in whop_fake.requests if r.path == "/api/v1/payments"]
    assert len(payments) == 3
    assert "after" not in payments[0].query
    assert payments[1].query["after"] and payments[2].query["after"] != payments[1].query["after"]
    assert all(r.query["company_id"] == COMPANY_ID for r in payments)
    assert all(r.authorization == f"Bearer {API_KEY}" for r in payments)


def test_it_stops_with_an_error_past_the_page_bound(whop_fake):
    for _ in range(250):
        whop_fake.add_payment(total=1.0)
    with pytest.raises(WhopError, match="more than 2 pages"):
        client_for(whop_fake, max_pages=2).revenue(start=START, end=END)


def test_it_refuses_a_naive_or_empty_window(whop_fake):
    with pytest.raises(ValueError, match="timezone-aware"):
        client_for(whop_fake).revenue(start=datetime(2025, 6, 1), end=END)
    with pytest.raises(ValueError, match="must be after start"):
        client_for(whop_fake).revenue(start=END, end=START)


# --- retries --------------------------------------------------------------------------
def test_it_waits_as_long_as_retry_after_says_on_429_then_succeeds(whop_fake):
    whop_fake.add_payment(total=5.0)
    whop_fake.fail_next(429, headers={"Retry-After": "7"})
    whop_fake.fail_next(429, headers={"Retry-After": "3"})
    sleeps = Sleeps()
    assert client_for(whop_fake, sleeps=sleeps).revenue(start=START, end=END) == {"USD": 500}
    assert sleeps == [7.0, 3.0]
    assert len(whop_fake.requests) == 3


def test_it_gives_up_on_429_when_retry_after_overruns_the_budget(whop_fake):
    whop_fake.fail_next(429, headers={"Retry-After": "3600"})
    sleeps = Sleeps()
    with pytest.raises(WhopTransientError, match=r"gave up after 1 attempts.*HTTP 429"):
        client_for(whop_fake, sleeps=sleeps).revenue(start=START, end=END)
    assert sleeps == []


def test_it_stops_after_the_policy_attempts_on_repeated_429(whop_fake):
    for _ in range(10):
        whop_fake.fail_next(429, headers={"Retry-After": "1"})
    policy = RetryPolicy(attempts=3, base_delay=0.0, max_delay=0.0, budget=60.0, jitter="none")
    with pytest.raises(WhopTransientError, match="HTTP 429"):
        client_for(whop_fake, policy=policy).revenue(start=START, end=END)
    assert len(whop_fake.requests) == 3


def test_it_retries_a_server_error_then_succeeds(whop_fake):
    whop_fake.add_payment(total=9.99)
    whop_fake.fail_next(503)
    whop_fake.fail_next(500)
    sleeps = Sleeps()
    assert client_for(whop_fake, sleeps=sleeps).revenue(start=START, end=END) == {"USD": 999}
    assert len(sleeps) == 2
    assert len(whop_fake.requests) == 3


def test_it_does_not_retry_a_refused_key_and_never_shows_it(whop_fake):
    client = WhopClient(
        api_key="whop_wrong_key_s3cr3t", company_id=COMPANY_ID, api_url=whop_fake.base_url
    )
    with pytest.raises(WhopAuthError, match="BIZAGENT_WHOP_API_KEY") as caught:
        client.revenue(start=START, end=END)
    assert "s3cr3t" not in str(caught.value)
    assert "s3cr3t" not in repr(client)
    assert len(whop_fake.requests) == 1


def test_bad_json_is_a_clear_error_naming_the_endpoint_not_the_key(whop_fake):
    whop_fake.fail_next(200, headers={"Content-Type": "text/html"}, body=b"<html>oops</html>")
    with pytest.raises(WhopError, match=r"GET /payments: .*not JSON") as caught:
        client_for(whop_fake).revenue(start=START, end=END)
    assert API_KEY not in str(caught.value)
    assert len(whop_fake.requests) == 1  # a malformed answer is not retried


def test_an_answer_without_page_info_is_refused(whop_fake):
    whop_fake.fail_next(200, body=b'{"data": []}')
    with pytest.raises(WhopError, match="page_info"):
        client_for(whop_fake).revenue(start=START, end=END)


def test_a_paid_payment_with_a_bad_total_names_the_payment_and_field(whop_fake):
    whop_fake.add_payment(total="lots")
    with pytest.raises(WhopError, match=r"GET /payments: payment pay_0+1: total"):
        client_for(whop_fake).revenue(start=START, end=END)


# --- customers and ARPU ------------------------------------------------------------------
def test_it_counts_active_memberships_started_by_the_day(whop_fake):
    whop_fake.add_membership(status="active")
    whop_fake.add_membership(status="active")
    whop_fake.add_membership(status="trialing")
    whop_fake.add_membership(status="canceled")
    whop_fake.add_membership(status="past_due")
    whop_fake.add_membership(status="active", created_at="2025-06-20T00:00:00.000Z")
    on = datetime(2025, 6, 15, tzinfo=UTC)
    assert client_for(whop_fake).customers(on=on) == 2
    assert whop_fake.requests[0].path == "/api/v1/memberships"


def test_arpu_is_net_revenue_per_paying_user_per_currency(whop_fake):
    whop_fake.add_payment(total=10.0, user_id="user_a")
    whop_fake.add_payment(total=10.0, user_id="user_a")
    whop_fake.add_payment(total=10.01, user_id="user_b", refunded_amount=0)
    whop_fake.add_payment(total=3000, currency="jpy", user_id="user_c")
    whop_fake.add_payment(total=1000, currency="jpy", user_id="user_d", refunded_amount=500)
    arpu = client_for(whop_fake).arpu(start=START, end=END)
    # USD 30.01 over 2 payers = 15.005 → 1501 cents (half up); JPY 3500 over 2 = 1750.
    assert arpu == {"USD": 1501, "JPY": 1750}


# --- settings ---------------------------------------------------------------------------
def test_the_source_is_off_without_a_key(settings):
    settings.WHOP_API_KEY = None
    assert not whop_enabled()
    with pytest.raises(WhopNotConfiguredError, match="BIZAGENT_WHOP_API_KEY is not set"):
        whop_revenue(start=START, end=END)
    with pytest.raises(WhopNotConfiguredError):
        whop_customers(on=END)


def test_the_module_functions_read_settings(whop_settings, whop_fake):
    whop_fake.add_payment(total=2000000, currency="jpy", user_id="user_a")
    whop_fake.add_membership(status="active")
    assert whop_enabled()
    assert whop_revenue(start=START, end=END) == {"JPY": 2000000}
    assert whop_arpu(start=START, end=END) == {"JPY": 2000000}
    assert whop_customers(on=END) == 1
    assert repr(whop_client()).startswith("WhopClient(company_id='biz_")


# --- start-up (a fresh process reading the environment) ---------------------------------
WHOP_PROBE = (
    "import django, json; django.setup(); from django.conf import settings as s; "
    "print(json.dumps([s.WHOP_API_KEY, s.WHOP_COMPANY_ID, s.WHOP_API_URL]))"
)


def test_start_up_defaults_to_the_source_off_and_whops_v1_root(tmp_path):
    done = python_run("-c", WHOP_PROBE, env=clean_env(tmp_path), timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [None, None, "https://api.whop.com/api/v1"]


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"BIZAGENT_WHOP_API_KEY": "whop_s3cr3t"}, "BIZAGENT_WHOP_COMPANY_ID must be set"),
        ({"BIZAGENT_WHOP_API_URL": "api.whop.com/api/v1"}, "BIZAGENT_WHOP_API_URL must be a URL"),
    ],
)
def test_start_up_refuses_a_half_configured_source_naming_the_variable(tmp_path, env, message):
    done = python_run("-c", WHOP_PROBE, env=clean_env(tmp_path, **env), timeout=60)
    assert done.returncode != 0
    assert message in done.stderr
    assert "s3cr3t" not in done.stderr
