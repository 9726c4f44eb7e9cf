"""POST /api/v1/goals/webhook/whop through Django's test client: Standard Webhooks
signatures on the raw body (valid, stale, forged, replayed), and what each event does
to the day's Whop-webhook snapshots."""

from __future__ import annotations

import json
import time
from datetime import UTC, date, datetime

import pytest

from bizagent.webhooks import webhook_sign
from decisions.models import AuditEvent
from goals.models import MetricSnapshot, WebhookDelivery
from goals.services.snapshots import webhook_receive

pytestmark = pytest.mark.django_db

URL = "/api/v1/goals/webhook/whop"
SECRET = "whsec_" + "c2VjcmV0LWtleS1mb3ItdGVzdHMtb25seS0xMjM0NTY="


@pytest.fixture(autouse=True)
def _secret(settings):
    settings.WHOP_WEBHOOK_SECRET = SECRET


def payment_event(*, total=19.99, currency="usd", paid_at="2025-06-10T12:00:00.000Z"):
    # Whop's v1 webhook envelope: type + data (the payment object as the API returns it).
    return {
        "id": "msg_2xL0",
        "api_version": "v1",
        "type": "payment.succeeded",
        "timestamp": "2025-06-10T12:00:01.000Z",
        "data": {
            "id": "pay_00000000000001",
            "status": "paid",
            "total": total,
            "subtotal": total,
            "currency": currency,
            "paid_at": paid_at,
            "refunded_amount": 0,
        },
    }


def delivery(payload, *, webhook_id="msg_2xL0AbCd", timestamp=None, secret=SECRET):
    body = json.dumps(payload).encode()
    stamp = int(time.time()) if timestamp is None else timestamp
    signature = webhook_sign(secret=secret, webhook_id=webhook_id, timestamp=stamp, body=body)
    headers = {
        "HTTP_WEBHOOK_ID": webhook_id,
        "HTTP_WEBHOOK_TIMESTAMP": str(stamp),
        "HTTP_WEBHOOK_SIGNATURE": signature,
    }
    return body, headers


def post(client, body, headers):
    return client.post(URL, data=body, content_type="application/json", **headers)


def revenue(day=date(2025, 6, 10)):
    return MetricSnapshot.objects.get(source="whop_webhook", metric="revenue", date=day)


def test_a_valid_payment_adds_to_the_days_revenue(client):
    response = post(client, *delivery(payment_event(total=19.99)))
    assert response.status_code == 200
    assert response.json()["status"] == "applied"
    second = payment_event(total=5)
    response = post(client, *delivery(second, webhook_id="msg_second"))
    assert response.status_code == 200
    row = revenue()
    assert (row.value, row.currency) == (2499, "USD")  # 19.99 + 5.00 in cents


def test_a_replayed_delivery_is_answered_200_and_counted_once(client):
    body, headers = delivery(payment_event(total=19.99))
    assert post(client, body, headers).json()["status"] == "applied"
    again = post(client, body, headers)
    assert again.status_code == 200
    assert again.json()["status"] == "duplicate"
    assert revenue().value == 1999
    assert WebhookDelivery.objects.filter(id="msg_2xL0AbCd").count() == 1


def test_a_stale_delivery_is_refused_with_401_and_changes_nothing(client):
    body, headers = delivery(payment_event(), timestamp=int(time.time()) - 3600)
    response = post(client, body, headers)
    assert response.status_code == 401
    assert "stale" in response.json()["error"]
    assert not MetricSnapshot.objects.exists()
    assert not WebhookDelivery.objects.exists()


def test_a_forged_signature_is_refused_without_echoing_the_secret(client):
    body, headers = delivery(payment_event(), secret="whsec_" + "Zm9yZ2VkLXNlY3JldA==")
    response = post(client, body, headers)
    assert response.status_code == 401
    assert "no signature" in response.json()["error"]
    assert SECRET not in response.content.decode()
    assert SECRET.removeprefix("whsec_") not in response.content.decode()
    assert not MetricSnapshot.objects.exists()


def test_a_body_changed_after_signing_is_refused(client):
    body, headers = delivery(payment_event(total=19.99))
    tampered = body.replace(b"19.99", b"99.99")
    assert post(client, tampered, headers).status_code == 401
    assert not MetricSnapshot.objects.exists()


def test_membership_events_move_the_customer_count_from_the_last_reading(client):
    today = datetime.now(tz=UTC).date()
    MetricSnapshot.objects.create(source="whop", metric="customers", date=today, value=10)
    for number, kind in enumerate(["activated", "activated", "deactivated"]):
        payload = {"type": f"membership.{kind}", "data": {"id": f"mem_{number}"}}
        response = post(client, *delivery(payload, webhook_id=f"msg_mem_{number}"))
        assert response.json()["status"] == "applied"
    row = MetricSnapshot.objects.get(source="whop_webhook", metric="customers", date=today)
    assert row.value == 11


def test_an_event_type_we_do_not_count_is_acknowledged_and_ignored(client):
    response = post(client, *delivery({"type": "refund.created", "data": {}}))
    assert response.json()["status"] == "ignored"
    assert not MetricSnapshot.objects.exists()


def test_get_is_not_allowed_and_no_secret_means_503(client, settings):
    assert client.get(URL).status_code == 405
    settings.WHOP_WEBHOOK_SECRET = None
    response = post(client, *delivery(payment_event()))
    assert response.status_code == 503
    assert not MetricSnapshot.objects.exists()


def test_the_endpoint_needs_no_csrf_token(rf):
    # Whop cannot send a CSRF token: the signature is the authentication.
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    assert post(strict, *delivery(payment_event())).status_code == 200


def test_the_service_records_nothing_in_the_audit_log_for_a_replay():
    body, raw = delivery(payment_event())
    headers = {key.removeprefix("HTTP_").replace("_", "-").lower(): v for key, v in raw.items()}
    assert webhook_receive(headers=headers, body=body).status == "applied"
    before = AuditEvent.objects.count()
    assert webhook_receive(headers=headers, body=body).status == "duplicate"
    assert AuditEvent.objects.count() == before
