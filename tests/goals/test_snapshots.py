"""snapshot_record: idempotent per (source, metric, date), audited changes, race-safe;
snapshots_take: every enabled source, one failure not stopping the rest."""

from __future__ import annotations

import threading
from datetime import date

import pytest
from django.db import connection

from decisions.models import AuditEvent
from goals.models import MetricSnapshot
from goals.services.snapshots import snapshot_record, snapshots_take
from goals.sources import Reading, SourceError

DAY = date(2025, 6, 10)


@pytest.mark.django_db
def test_the_same_value_twice_is_one_row_and_one_audit_event():
    first = snapshot_record(source="whop", metric="revenue", day=DAY, value=1999, currency="usd")
    again = snapshot_record(source="whop", metric="revenue", day=DAY, value=1999, currency="USD")
    assert (first.outcome, again.outcome) == ("created", "unchanged")
    assert MetricSnapshot.objects.count() == 1
    assert AuditEvent.objects.filter(action__startswith="goals.snapshot").count() == 1


@pytest.mark.django_db
def test_a_new_value_updates_the_row_and_audits_old_and_new():
    snapshot_record(source="sheets", metric="customers", day=DAY, value=10)
    result = snapshot_record(source="sheets", metric="customers", day=DAY, value=12)
    assert result.outcome == "updated"
    assert MetricSnapshot.objects.get().value == 12
    event = AuditEvent.objects.get(action="goals.snapshot_changed")
    assert event.data["old"]["value"] == 10
    assert event.data["new"]["value"] == 12


@pytest.mark.django_db
def test_other_sources_and_days_are_separate_rows():
    snapshot_record(source="whop", metric="customers", day=DAY, value=10)
    snapshot_record(source="manual", metric="customers", day=DAY, value=11)
    snapshot_record(source="whop", metric="customers", day=date(2025, 6, 11), value=12)
    assert MetricSnapshot.objects.count() == 3


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"source": "nowhere", "metric": "revenue", "value": 1, "currency": "JPY"}, "source"),
        ({"source": "whop", "metric": "profit", "value": 1}, "metric"),
        ({"source": "whop", "metric": "revenue", "value": 1}, "currency"),
        ({"source": "whop", "metric": "customers", "value": 1, "currency": "JPY"}, "count"),
        ({"source": "whop", "metric": "customers", "value": -1}, "0 or more"),
        ({"source": "whop", "metric": "customers", "value": 1.5}, "whole number"),
    ],
)
def test_bad_input_is_refused_naming_what_is_wrong(kwargs, message):
    with pytest.raises(ValueError, match=message):
        snapshot_record(day=DAY, **kwargs)
    assert not MetricSnapshot.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_racing_writers_leave_one_row():
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def write(value: int) -> None:
        try:
            barrier.wait()
            snapshot_record(source="whop", metric="trials", day=DAY, value=value)
        except BaseException as exc:  # reported below, not swallowed
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=write, args=(5 + n % 2,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    row = MetricSnapshot.objects.get(source="whop", metric="trials", date=DAY)
    assert row.value in (5, 6)


class Stub:
    def __init__(self, name, readings, *, enabled=True, fail=False):
        self.name, self.readings, self._enabled, self.fail = name, readings, enabled, fail
        self.asked: list[str] = []

    def enabled(self):
        return self._enabled

    def read(self, *, metric, day):
        self.asked.append(metric)
        if self.fail:
            raise SourceError(f"{self.name}: HTTP 503")
        return self.readings.get(metric)


@pytest.mark.django_db
def test_take_reads_every_enabled_source_and_reports_failures():
    whop = Stub("whop", {"revenue": Reading(value=5000, currency="JPY")})
    sheets = Stub("sheets", {}, fail=True)
    off = Stub("manual", {"customers": Reading(value=1)}, enabled=False)
    runs = Stub("workflow_runs", {"sends": Reading(value=40)})
    report = snapshots_take(day=DAY, sources=[whop, sheets, off, runs])
    rows = {(r.source, r.metric): r.value for r in MetricSnapshot.objects.all()}
    assert rows == {("whop", "revenue"): 5000, ("workflow_runs", "sends"): 40}
    assert off.asked == []
    assert len(report.errors) == 1 and "sheets" in report.errors[0]
    # Taking again the same day changes nothing.
    again = snapshots_take(day=DAY, sources=[whop, runs])
    assert {r.outcome for r in again.recorded} == {"unchanged"}
