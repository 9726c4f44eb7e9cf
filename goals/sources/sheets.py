"""A Google Sheets range of past performance as a metric source.

``BIZAGENT_GOALS_SHEETS_RANGE`` (e.g. ``past_performance!A2:D``) holds rows of
``date, metric, value[, currency]``: an ISO date, a metric name (``revenue``,
``customers``, ``trials``, ``sends``), the value in major units for revenue (``19.99``,
``2000000``) or a count, and for revenue the currency (the row is refused without one).
A malformed row is an error naming its row number: a sheet a person keeps by hand
must say where it is wrong rather than be read half.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.conf import settings

from bizagent.sheets import SheetsError, sheets_call_with_retry, sheets_client_open
from goals.models import MetricSnapshot
from goals.sources.base import Reading, SourceError
from goals.vocabulary import currency_exponent

Measure = MetricSnapshot.Measure


def sheet_rows_parse(
    rows: Sequence[Sequence[Any]], *, first_row: int = 1
) -> dict[tuple[str, date], Reading]:
    """Readings keyed by (metric, date); blank rows are skipped, a bad one is refused.

    ``first_row`` is the sheet row number of ``rows[0]`` so messages point at the cell.
    """
    readings: dict[tuple[str, date], Reading] = {}
    for offset, row in enumerate(rows):
        number = first_row + offset
        cells = [str(cell).strip() for cell in row]
        if not any(cells):
            continue
        if len(cells) < 3:
            raise SourceError(f"sheets: row {number} needs date, metric and value")
        day_text, metric, value_text = cells[0], cells[1].lower(), cells[2].replace(",", "")
        try:
            day = date.fromisoformat(day_text)
        except ValueError:
            raise SourceError(
                f"sheets: row {number}: {day_text[:20]!r} is not a date (YYYY-MM-DD)"
            ) from None
        if metric not in Measure.values:
            raise SourceError(
                f"sheets: row {number}: unknown metric {metric[:20]!r}, "
                f"expected one of {sorted(Measure.values)}"
            )
        try:
            amount = Decimal(value_text)
        except InvalidOperation:
            raise SourceError(
                f"sheets: row {number}: {value_text[:20]!r} is not a number"
            ) from None
        if not amount.is_finite() or amount < 0:
            raise SourceError(f"sheets: row {number}: the value must be a number of 0 or more")
        currency = cells[3].upper() if len(cells) > 3 else ""
        if metric == Measure.REVENUE:
            if not currency:
                raise SourceError(f"sheets: row {number}: revenue needs a currency (JPY, USD, …)")
            try:
                amount = amount.scaleb(currency_exponent(currency))
            except ValueError as exc:
                raise SourceError(f"sheets: row {number}: {exc}") from None
        else:
            currency = ""
        value = int(amount.quantize(Decimal(1), rounding=ROUND_HALF_UP))
        readings[(metric, day)] = Reading(value=value, currency=currency, detail={"row": number})
    return readings


def _first_row(a1: str) -> int:
    """The row number a range starts at (``tab!A2:D`` → 2; ``tab!A:D`` → 1)."""
    cells = a1.rsplit("!", 1)[-1].split(":", 1)[0]
    digits = "".join(ch for ch in cells if ch.isdigit())
    return int(digits) if digits else 1


class SheetsSource:
    name = MetricSnapshot.Source.SHEETS.value

    def __init__(self) -> None:
        self._rows: dict[tuple[str, date], Reading] | None = None

    def enabled(self) -> bool:
        return bool(
            getattr(settings, "GOALS_SHEETS_RANGE", None)
            and settings.SHEETS_CREDENTIALS
            and settings.SHEETS_SPREADSHEET_ID
        )

    def _load(self) -> dict[tuple[str, date], Reading]:
        # One read of the range per source object: ``snapshots_take`` asks per metric.
        if self._rows is None:
            a1 = settings.GOALS_SHEETS_RANGE
            if not a1:
                raise SourceError("sheets: BIZAGENT_GOALS_SHEETS_RANGE is not set")
            try:
                client = sheets_client_open(
                    credentials_path=settings.SHEETS_CREDENTIALS,
                    spreadsheet_id=settings.SHEETS_SPREADSHEET_ID,
                )
                document = sheets_call_with_retry(
                    lambda: client.spreadsheet.values_get(
                        a1, params={"valueRenderOption": "UNFORMATTED_VALUE"}
                    ),
                    what=f"read {a1}",
                    policy=client.policy,
                )
            except SheetsError as exc:
                raise SourceError(f"sheets: {exc}") from None
            values = document.get("values") or []
            self._rows = sheet_rows_parse(values, first_row=_first_row(a1))
        return self._rows

    def read(self, *, metric: str, day: date) -> Reading | None:
        return self._load().get((metric, day))
