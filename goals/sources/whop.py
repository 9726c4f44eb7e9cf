"""Whop's v1 API as a metric source: revenue (net of refunds) and paying customers."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from django.utils import timezone

from bizagent.whop import WhopError, whop_customers, whop_enabled, whop_revenue
from goals.models import MetricSnapshot
from goals.sources.base import Reading, SourceError

Measure = MetricSnapshot.Measure


def day_window(day: date) -> tuple[datetime, datetime]:
    """``[00:00, next 00:00)`` of ``day`` in UTC, Whop's clock."""
    start = datetime.combine(day, time.min, tzinfo=UTC)
    return start, start + timedelta(days=1)


class WhopSource:
    name = MetricSnapshot.Source.WHOP.value

    def enabled(self) -> bool:
        return whop_enabled()

    def read(self, *, metric: str, day: date) -> Reading | None:
        start, end = day_window(day)
        try:
            if metric == Measure.REVENUE:
                per_currency = whop_revenue(start=start, end=end)
                return _one_currency(per_currency)
            if metric == Measure.CUSTOMERS:
                # Whop reports current statuses only: today's count is read as of now.
                on = min(end, timezone.now())
                return Reading(value=whop_customers(on=on))
        except WhopError as exc:
            raise SourceError(f"whop: {exc}") from None
        return None


def _one_currency(per_currency: dict[str, int]) -> Reading | None:
    """A snapshot holds one currency; Whop may answer several."""
    if not per_currency:
        return None
    # No setting names a reporting currency: the one that earned most that day wins
    # (ties by code, so a re-read picks the same), and the rest are kept in ``detail``.
    currency = max(sorted(per_currency), key=lambda code: per_currency[code])
    others = {code: amount for code, amount in per_currency.items() if code != currency}
    detail = {"other_currencies": others} if others else {}
    return Reading(value=per_currency[currency], currency=currency, detail=detail)
