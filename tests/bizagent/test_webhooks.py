"""Standard Webhooks verification (bizagent.webhooks) and Whop's settings-bound wrapper."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest

from bizagent.webhooks import WebhookVerificationError, webhook_sign, webhook_verify
from bizagent.whop import WhopNotConfiguredError, whop_webhook_verify

# The Standard Webhooks specification's own test vector (its README and libraries).
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TIMESTAMP = 1614265330
SPEC_BODY = b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

SECRET = "whsec_" + base64.b64encode(b"a-32-byte-key-for-the-test-suite").decode()
NOW = 1_750_000_000
BODY = json.dumps(
    {"type": "payment.succeeded", "data": {"id": "pay_1", "total": 19.99, "currency": "usd"}}
).encode()


def delivery(*, body=BODY, webhook_id="msg_2abc", timestamp=NOW, secret=SECRET, signature=None):
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature
        or webhook_sign(secret=secret, webhook_id=webhook_id, timestamp=timestamp, body=body),
    }


def test_it_matches_the_specification_test_vector():
    headers = {
        "webhook-id": SPEC_ID,
        "webhook-timestamp": str(SPEC_TIMESTAMP),
        "webhook-signature": SPEC_SIGNATURE,
    }
    event = webhook_verify(secret=SPEC_SECRET, headers=headers, body=SPEC_BODY, now=SPEC_TIMESTAMP)
    assert event.payload == {"test": 2432232314}
    assert (
        webhook_sign(
            secret=SPEC_SECRET, webhook_id=SPEC_ID, timestamp=SPEC_TIMESTAMP, body=SPEC_BODY
        )
        == SPEC_SIGNATURE
    )


def test_it_returns_the_parsed_event_and_its_id_for_dedupe():
    event = webhook_verify(secret=SECRET, headers=delivery(), body=BODY, now=NOW)
    assert event.id == "msg_2abc"
    assert event.timestamp == NOW
    assert event.payload["type"] == "payment.succeeded"


def test_it_reads_header_names_in_any_case():
    headers = {key.title(): value for key, value in delivery().items()}
    assert webhook_verify(secret=SECRET, headers=headers, body=BODY, now=NOW).id == "msg_2abc"


@pytest.mark.parametrize("offset", [301, -301, 86_400])
def test_it_refuses_a_timestamp_over_five_minutes_away(offset):
    with pytest.raises(WebhookVerificationError, match="more than 300 seconds"):
        webhook_verify(secret=SECRET, headers=delivery(), body=BODY, now=NOW + offset)


def test_it_accepts_a_timestamp_just_inside_the_tolerance():
    assert webhook_verify(secret=SECRET, headers=delivery(), body=BODY, now=NOW + 300)


def test_a_replayed_old_delivery_is_stale_even_with_a_valid_signature():
    old = delivery(timestamp=NOW - 3600)
    with pytest.raises(WebhookVerificationError, match="stale or replayed"):
        webhook_verify(secret=SECRET, headers=old, body=BODY, now=NOW)


def test_it_refuses_a_signature_made_with_another_secret():
    forged = delivery(secret="whsec_" + base64.b64encode(b"attacker-key").decode())
    with pytest.raises(WebhookVerificationError, match=r"no signature .* matches"):
        webhook_verify(secret=SECRET, headers=forged, body=BODY, now=NOW)


def test_it_refuses_a_tampered_body():
    tampered = BODY.replace(b"19.99", b"1999.0")
    with pytest.raises(WebhookVerificationError, match="matches the body"):
        webhook_verify(secret=SECRET, headers=delivery(), body=tampered, now=NOW)


def test_it_refuses_a_signature_moved_to_another_id_or_timestamp():
    headers = delivery()
    with pytest.raises(WebhookVerificationError, match="matches"):
        webhook_verify(
            secret=SECRET, headers={**headers, "webhook-id": "msg_other"}, body=BODY, now=NOW
        )
    with pytest.raises(WebhookVerificationError, match="matches"):
        webhook_verify(
            secret=SECRET,
            headers={**headers, "webhook-timestamp": str(NOW + 1)},
            body=BODY,
            now=NOW,
        )


def test_it_accepts_any_one_matching_signature_among_several():
    good = delivery()["webhook-signature"]
    stale_key = webhook_sign(
        secret="whsec_" + base64.b64encode(b"the-old-rotated-key").decode(),
        webhook_id="msg_2abc",
        timestamp=NOW,
        body=BODY,
    )
    header = f"v1a,bm90LWNoZWNrZWQ= {stale_key} v1,!!notbase64 {good}"
    event = webhook_verify(secret=SECRET, headers=delivery(signature=header), body=BODY, now=NOW)
    assert event.id == "msg_2abc"


def test_several_signatures_none_matching_are_refused():
    wrong = "v1," + base64.b64encode(b"\0" * 32).decode()
    header = f"{wrong} {wrong}"
    with pytest.raises(WebhookVerificationError, match="no signature"):
        webhook_verify(secret=SECRET, headers=delivery(signature=header), body=BODY, now=NOW)


@pytest.mark.parametrize(
    ("drop", "message"),
    [
        ("webhook-id", "webhook-id header is missing"),
        ("webhook-timestamp", "webhook-timestamp header is missing"),
        ("webhook-signature", "webhook-signature header is missing"),
    ],
)
def test_it_names_a_missing_header(drop, message):
    headers = {k: v for k, v in delivery().items() if k != drop}
    with pytest.raises(WebhookVerificationError, match=message):
        webhook_verify(secret=SECRET, headers=headers, body=BODY, now=NOW)


@pytest.mark.parametrize(
    ("header", "value", "message"),
    [
        ("webhook-timestamp", "2025-06-15T00:00:00Z", "must be Unix seconds"),
        ("webhook-timestamp", "-1750000000", "must be Unix seconds"),
        ("webhook-timestamp", "9" * 40, "must be Unix seconds"),
        ("webhook-signature", "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", "no v1 signature"),
        ("webhook-signature", "v1,", "no v1 signature"),
        ("webhook-signature", "v2,abcd", "no v1 signature"),
        ("webhook-signature", "v1," + "A" * 5000, "too long"),
        ("webhook-id", "   ", "webhook-id header is missing"),
    ],
)
def test_it_refuses_malformed_headers_with_a_clear_message(header, value, message):
    headers = {**delivery(), header: value}
    with pytest.raises(WebhookVerificationError, match=message):
        webhook_verify(secret=SECRET, headers=headers, body=BODY, now=NOW)


def test_a_signed_body_that_is_not_a_json_object_is_refused():
    for body, message in ((b"not json", "not JSON"), (b"[1, 2]", "not a JSON object")):
        with pytest.raises(WebhookVerificationError, match=message):
            webhook_verify(secret=SECRET, headers=delivery(body=body), body=body, now=NOW)


def test_a_malformed_whsec_secret_is_refused_without_echoing_it():
    with pytest.raises(WebhookVerificationError, match="not base64") as caught:
        webhook_verify(secret="whsec_%%%s3cr3t", headers=delivery(), body=BODY, now=NOW)
    assert "s3cr3t" not in str(caught.value)


def test_a_plain_secret_is_used_as_its_bytes_like_whops_sdk_does():
    # Whop's SDK passes base64(secret) to the standard verifier, which decodes it back.
    plain = "ws_plain_dashboard_secret"
    wrapped = "whsec_" + base64.b64encode(plain.encode()).decode()
    signed = f"msg_2abc.{NOW}.".encode() + BODY
    digest = base64.b64encode(hmac.new(plain.encode(), signed, hashlib.sha256).digest()).decode()
    headers = delivery(signature=f"v1,{digest}")
    assert webhook_verify(secret=plain, headers=headers, body=BODY, now=NOW)
    assert webhook_verify(secret=wrapped, headers=headers, body=BODY, now=NOW)


def test_whop_wrapper_uses_the_configured_secret(settings):
    settings.WHOP_WEBHOOK_SECRET = SECRET
    event = whop_webhook_verify(headers=delivery(), body=BODY, now=NOW)
    assert event.payload["data"]["id"] == "pay_1"
    settings.WHOP_WEBHOOK_SECRET = None
    with pytest.raises(WhopNotConfiguredError, match="BIZAGENT_WHOP_WEBHOOK_SECRET"):
        whop_webhook_verify(headers=delivery(), body=BODY, now=NOW)
