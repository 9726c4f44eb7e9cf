"""The metric sources behind one interface: Whop against the loopback fake of its v1
API, the Sheets range against the fake Sheets API, workflow run outputs in the
database, and the manual source that is never polled."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.utils import timezone

from goals.sources import (
    ManualSource,
    MetricSource,
    Reading,
    RunsSource,
    SheetsSource,
    SourceError,
    WhopSource,
    sources_all,
)
from goals.sources.sheets import sheet_rows_parse
from tests.bizagent.whop_fake import API_KEY, COMPANY_ID
from tests.google_sheets import SPREADSHEET_ID
from workflows.models import Run, Workflow

DAY = date(2025, 6, 10)


def test_every_source_speaks_the_one_interface():
    for source in sources_all():
        assert isinstance(source, MetricSource)
    assert {s.name for s in sources_all()} == {"whop", "sheets", "workflow_runs", "manual"}


@pytest.fixture
def whop_on(settings, whop_fake):
    settings.WHOP_API_KEY = API_KEY
    settings.WHOP_COMPANY_ID = COMPANY_ID
    settings.WHOP_API_URL = whop_fake.base_url
    return whop_fake


def test_whop_is_off_without_a_key(settings):
    settings.WHOP_API_KEY = None
    assert WhopSource().enabled() is False


def test_whop_reads_the_days_net_revenue_in_minor_units(whop_on):
    whop_on.add_payment(total=19.99, paid_at="2025-06-10T09:00:00.000Z")
    whop_on.add_payment(total=10, paid_at="2025-06-10T23:00:00.000Z", refunded_amount=4)
    whop_on.add_payment(total=50, paid_at="2025-06-11T00:00:01.000Z")  # the next day
    reading = WhopSource().read(metric="revenue", day=DAY)
    assert reading == Reading(value=1999 + 1000 - 400, currency="USD")


def test_whop_counts_active_memberships_and_knows_no_sends(whop_on):
    whop_on.add_membership(status="active", created_at="2025-06-01T00:00:00.000Z")
    whop_on.add_membership(status="canceled", created_at="2025-06-01T00:00:00.000Z")
    whop_on.add_membership(status="active", created_at="2025-06-09T00:00:00.000Z")
    assert WhopSource().read(metric="customers", day=DAY) == Reading(value=2)
    assert WhopSource().read(metric="sends", day=DAY) is None


def test_whop_refusing_the_key_is_a_source_error_without_the_key(whop_on, settings):
    settings.WHOP_API_KEY = "whop_wrong_key_123456"
    with pytest.raises(SourceError) as caught:
        WhopSource().read(metric="customers", day=DAY)
    assert "refused" in str(caught.value)
    assert "whop_wrong_key_123456" not in str(caught.value)


@pytest.fixture
def sheets_on(settings, google_sheets, service_account_file):
    settings.SHEETS_CREDENTIALS = str(service_account_file)
    settings.SHEETS_SPREADSHEET_ID = SPREADSHEET_ID
    settings.GOALS_SHEETS_RANGE = "past_performance!A2:D"
    google_sheets.add_tab(
        "past_performance",
        [
            ["date", "metric", "value", "currency"],
            ["2025-06-09", "revenue", "1,500,000", "JPY"],
            ["2025-06-10", "revenue", 1800000, "JPY"],
            ["2025-06-10", "customers", 42],
        ],
    )
    return google_sheets


def test_sheets_reads_past_performance_rows(sheets_on):
    source = SheetsSource()
    assert source.enabled()
    assert source.read(metric="revenue", day=DAY).value == 1800000
    assert source.read(metric="revenue", day=date(2025, 6, 9)).currency == "JPY"
    assert source.read(metric="customers", day=DAY).value == 42
    assert source.read(metric="trials", day=DAY) is None
    assert sheets_on.count("values.get") == 1  # the range is read once per source


def test_sheets_is_off_without_a_range(settings):
    settings.GOALS_SHEETS_RANGE = None
    assert SheetsSource().enabled() is False


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (["10/06/2025", "revenue", "5", "JPY"], "row 2: '10/06/2025' is not a date"),
        (["2025-06-10", "profit", "5"], "row 2: unknown metric"),
        (["2025-06-10", "revenue", "lots", "JPY"], "row 2: 'lots' is not a number"),
        (["2025-06-10", "revenue", "5"], "row 2: revenue needs a currency"),
        (["2025-06-10", "customers", "-3"], "row 2: the value must be"),
        (["2025-06-10", "revenue"], "row 2 needs date, metric and value"),
    ],
)
def test_a_bad_sheet_row_is_refused_naming_its_row(row, message):
    with pytest.raises(SourceError, match=message):
        sheet_rows_parse([row], first_row=2)


def test_sheet_revenue_in_usd_becomes_cents_and_blank_rows_are_skipped():
    readings = sheet_rows_parse([["2025-06-10", "revenue", "19.99", "usd"], ["", "", ""]])
    assert readings[("revenue", DAY)].value == 1999


@pytest.mark.django_db
def test_runs_sum_the_numeric_output_field_of_finished_runs():
    outreach = Workflow.objects.create(key="cold-outreach", name="Cold outreach")
    other = Workflow.objects.create(key="briefing", name="Briefing")
    today = timezone.now()
    done = Run.Status.SUCCEEDED

    def run(workflow, output, *, status=done, when=today):
        Run.objects.create(workflow=workflow, status=status, output=output, finished_at=when)

    run(outreach, {"sends": 40})
    run(outreach, {"sends": 10, "trials": 1})
    run(outreach, {"sends": "many"})  # not a count
    run(outreach, {"sends": True})  # not a count either
    run(outreach, {"sends": 99}, status=Run.Status.FAILED)
    run(outreach, {"sends": 7}, when=today - timedelta(days=1))
    run(other, {"sends": 5})
    day = timezone.localdate(today)  # finished_at__date is read in the site time zone
    assert RunsSource().read(metric="sends", day=day) == Reading(value=55, detail={"runs": 3})
    narrowed = RunsSource(workflow_keys=["cold-outreach"]).read(metric="sends", day=day)
    assert narrowed.value == 50
    assert RunsSource().read(metric="trials", day=day).value == 1
    assert RunsSource().read(metric="revenue", day=day) is None


@pytest.mark.django_db
def test_a_day_without_runs_is_no_figure_not_zero():
    assert RunsSource().read(metric="sends", day=DAY) is None


def test_manual_entries_are_never_polled():
    assert ManualSource().enabled() is False
    assert ManualSource().read(metric="revenue", day=DAY) is None
