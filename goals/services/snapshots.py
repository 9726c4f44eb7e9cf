"""MetricSnapshots: recording readings, polling the sources, and Whop's webhooks.

``snapshot_record`` is the one writer of a day's reading: idempotent per (source,
metric, date), race-safe (the row is created or locked inside one transaction; a
concurrent creator's insert loses on the unique constraint and is retried as an
update), and audited when it creates or changes a value.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from django.db import IntegrityError, transaction

from bizagent.webhooks import WebhookEvent
from bizagent.whop import WhopError, amount_minor, whop_webhook_verify
from decisions.actors import Actor
from decisions.services.audit import audit_log
from goals.models import MetricSnapshot, WebhookDelivery
from goals.sources import MetricSource, SourceError, sources_all

logger = logging.getLogger(__name__)

Source = MetricSnapshot.Source
Measure = MetricSnapshot.Measure


@dataclass(frozen=True)
class SnapshotResult:
    snapshot: MetricSnapshot
    #: ``created``, ``updated`` or ``unchanged``.
    outcome: str


def _check(*, source: str, metric: str, value: int, currency: str) -> str:
    if source not in Source.values:
        raise ValueError(f"unknown source {source!r}: expected one of {sorted(Source.values)}")
    if metric not in Measure.values:
        raise ValueError(f"unknown metric {metric!r}: expected one of {sorted(Measure.values)}")
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"value must be a whole number (minor units or a count), got {value!r}")
    if value < 0:
        raise ValueError(f"value must be 0 or more, got {value}")
    currency = (currency or "").strip().upper()
    if metric == Measure.REVENUE and not currency:
        raise ValueError("revenue needs a currency (JPY, USD, …)")
    if metric != Measure.REVENUE and currency:
        raise ValueError(f"{metric} is a count and takes no currency")
    return currency


def snapshot_record(
    *,
    source: str,
    metric: str,
    day: date,
    value: int,
    currency: str = "",
    detail: Mapping[str, Any] | None = None,
    actor: Actor = None,
) -> SnapshotResult:
    """Store one day's reading: the same value is a no-op, a new one updates (audited)."""
    currency = _check(source=source, metric=metric, value=value, currency=currency)
    for _attempt in range(2):
        try:
            with transaction.atomic():
                return _record(
                    source=source,
                    metric=metric,
                    day=day,
                    value=value,
                    currency=currency,
                    detail=dict(detail or {}),
                    actor=actor,
                )
        except IntegrityError:
            # Another writer created the row between our lookup and insert: now it
            # exists, so the second pass locks and updates it.
            continue
    raise RuntimeError(f"could not record {metric} {day} from {source}")  # pragma: no cover


def _record(
    *,
    source: str,
    metric: str,
    day: date,
    value: int,
    currency: str,
    detail: dict[str, Any],
    actor: Actor,
) -> SnapshotResult:
    existing = (
        MetricSnapshot.objects.select_for_update()
        .filter(source=source, metric=metric, date=day)
        .first()
    )
    if existing is None:
        snapshot = MetricSnapshot.objects.create(
            source=source, metric=metric, date=day, value=value, currency=currency, detail=detail
        )
        audit_log(
            action="goals.snapshot_recorded",
            actor=actor,
            subject=snapshot,
            data={"source": source, "metric": metric, "date": day, "value": value},
        )
        return SnapshotResult(snapshot=snapshot, outcome="created")
    if existing.value == value and existing.currency == currency:
        return SnapshotResult(snapshot=existing, outcome="unchanged")
    old_value, old_currency = existing.value, existing.currency
    existing.value, existing.currency, existing.detail = value, currency, detail
    existing.save(update_fields=["value", "currency", "detail", "recorded_at"])
    audit_log(
        action="goals.snapshot_changed",
        actor=actor,
        subject=existing,
        data={
            "source": source,
            "metric": metric,
            "date": day,
            "old": {"value": old_value, "currency": old_currency},
            "new": {"value": value, "currency": currency},
        },
    )
    return SnapshotResult(snapshot=existing, outcome="updated")


@dataclass(frozen=True)
class TakeReport:
    recorded: list[SnapshotResult]
    #: ``"source: message"`` per source that failed; the others were still read.
    errors: list[str]


def snapshots_take(*, day: date, sources: list[MetricSource] | None = None) -> TakeReport:
    """Read every enabled source for every metric it knows on ``day``.

    One failing source does not stop the others: its error is reported and the rest
    are recorded.
    """
    recorded: list[SnapshotResult] = []
    errors: list[str] = []
    for source in sources if sources is not None else sources_all():
        if not source.enabled():
            continue
        for metric in Measure.values:
            try:
                reading = source.read(metric=metric, day=day)
            except SourceError as exc:
                errors.append(f"{source.name}: {exc}")
                logger.warning("snapshots: %s failed: %s", source.name, exc)
                break
            if reading is None:
                continue
            recorded.append(
                snapshot_record(
                    source=source.name,
                    metric=metric,
                    day=day,
                    value=reading.value,
                    currency=reading.currency,
                    detail=reading.detail,
                )
            )
    return TakeReport(recorded=recorded, errors=errors)


# --- Whop webhooks --------------------------------------------------------------------


@dataclass(frozen=True)
class WebhookOutcome:
    #: ``applied``, ``duplicate`` or ``ignored`` (an event type we do not count).
    status: str
    webhook_id: str
    event_type: str = ""


def _event_day(data: Mapping[str, Any], event: WebhookEvent, *field: str) -> date:
    for name in field:
        value = data.get(name)
        if isinstance(value, str):
            try:
                moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                continue
            return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC).date()
    return datetime.fromtimestamp(event.timestamp, tz=UTC).date()


def _adjust(*, metric: str, day: date, delta: int, currency: str, webhook_id: str) -> None:
    """Add ``delta`` to the day's webhook snapshot (locked; floored at 0)."""
    row = (
        MetricSnapshot.objects.select_for_update()
        .filter(source=Source.WHOP_WEBHOOK, metric=metric, date=day)
        .first()
    )
    if row is None:
        start = 0
        if metric == Measure.CUSTOMERS:
            # Customers is a level, not a flow: start from the latest known count.
            latest = (
                MetricSnapshot.objects.filter(
                    source__in=[Source.WHOP, Source.WHOP_WEBHOOK],
                    metric=Measure.CUSTOMERS,
                    date__lte=day,
                )
                .order_by("-date", "source")
                .first()
            )
            start = latest.value if latest else 0
        row = MetricSnapshot.objects.create(
            source=Source.WHOP_WEBHOOK,
            metric=metric,
            date=day,
            value=max(start + delta, 0),
            currency=currency,
            detail={"webhooks": [webhook_id]},
        )
        return
    if metric == Measure.REVENUE and row.currency != currency:
        # One row holds one currency; a payment in another is logged, not mixed in.
        logger.warning(
            "whop webhook %s: %s payment ignored, the day's revenue is in %s",
            webhook_id,
            currency,
            row.currency,
        )
        return
    row.value = max(row.value + delta, 0)
    seen = row.detail.get("webhooks", []) if isinstance(row.detail, dict) else []
    row.detail = {**(row.detail or {}), "webhooks": [*seen, webhook_id][-200:]}
    row.save(update_fields=["value", "detail", "recorded_at"])


def webhook_receive(
    *, headers: Mapping[str, str], body: bytes, now: float | None = None
) -> WebhookOutcome:
    """Verify a Whop delivery, apply it once, and say what happened.

    Raises ``WebhookVerificationError`` (bad signature, stale, malformed) or
    ``WhopNotConfiguredError`` (no secret); a replay returns ``duplicate`` and changes
    nothing. The delivery id and the change commit together, so a crash between them
    cannot leave a counted-but-unmarked (or marked-but-uncounted) event.
    """
    event = whop_webhook_verify(headers=headers, body=body, now=now)
    payload = event.payload
    event_type = str(payload.get("type") or payload.get("action") or "")
    data = payload.get("data")
    data = data if isinstance(data, Mapping) else {}
    try:
        with transaction.atomic():
            WebhookDelivery.objects.create(id=event.id)
            status = _apply(event_type=event_type, data=data, event=event)
    except IntegrityError:
        return WebhookOutcome(status="duplicate", webhook_id=event.id, event_type=event_type)
    return WebhookOutcome(status=status, webhook_id=event.id, event_type=event_type)


def _apply(*, event_type: str, data: Mapping[str, Any], event: WebhookEvent) -> str:
    if event_type == "payment.succeeded":
        currency = str(data.get("currency") or "").strip().upper()
        if not currency:
            raise WhopError(f"webhook {event.id}: payment.succeeded without a currency")
        amount = amount_minor(data.get("total"), currency=currency, what="payment total")
        day = _event_day(data, event, "paid_at", "created_at")
        _adjust(
            metric=Measure.REVENUE, day=day, delta=amount, currency=currency, webhook_id=event.id
        )
        return "applied"
    if event_type in ("membership.activated", "membership.deactivated"):
        delta = 1 if event_type == "membership.activated" else -1
        day = datetime.fromtimestamp(event.timestamp, tz=UTC).date()
        _adjust(metric=Measure.CUSTOMERS, day=day, delta=delta, currency="", webhook_id=event.id)
        return "applied"
    return "ignored"
