"""The Sheets mirror end to end at the HTTP level (Google's real shapes, via
``responses``): the outbox, batching, idempotence, 429s, a long outage and recovery
with every row mirrored exactly once, and what happens with no credentials."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from decisions.mirror import SHEET_TABS, sheet_row_enqueue, sheets_sync
from decisions.models import AuditEvent, SheetRow
from decisions.tasks import sheets_sync_task
from tests.decisions.factories import AuditEventFactory
from tests.google_sheets import SPREADSHEET_ID

pytestmark = pytest.mark.django_db


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def configured(settings, service_account_file, google_sheets):
    settings.SHEETS_CREDENTIALS = str(service_account_file)
    settings.SHEETS_SPREADSHEET_ID = SPREADSHEET_ID
    settings.SHEETS_RETRY_BUDGET = 30.0
    return google_sheets


def _events(n: int) -> list[AuditEvent]:
    return [AuditEventFactory(data={"n": i}) for i in range(n)]


def _sync(**kwargs):
    kwargs.setdefault("sleep", Sleeps())
    kwargs.setdefault("rand", lambda: 0.5)
    return sheets_sync(**kwargs)


def _mirrored_uuids(sheet) -> list[str]:
    return [row[0] for row in sheet.rows("decision_log")[1:]]


def test_tabs_are_created_with_header_rows(configured):
    report = _sync(ensure_tabs=True)
    assert sorted(report.tabs_created) == sorted(SHEET_TABS)
    for tab, header in SHEET_TABS.items():
        assert configured.rows(tab)[0] == list(header)
    assert _sync(ensure_tabs=True).tabs_created == []
    assert "Sheet1" in configured.tabs  # what was there is left alone


def test_many_events_go_in_one_append_call(configured):
    events = _events(40)
    report = _sync()
    assert report.mirrored == 40 and report.pending == 0 and report.ok
    assert configured.count("values.append") == 1
    assert _mirrored_uuids(configured) == [str(event.uuid) for event in events]
    row = configured.rows("decision_log")[1]
    assert row[2] == "decisions.budget_spent" and row[3] == "system"
    assert SheetRow.objects.filter(status=SheetRow.Status.SENT).count() == 40


def test_batches_are_bounded_by_the_batch_size(configured):
    _events(25)
    report = _sync(batch_size=10)
    assert report.mirrored == 25
    assert configured.count("values.append") == 3


def test_resyncing_never_duplicates(configured):
    events = _events(5)
    _sync()
    assert _sync().mirrored == 0
    # A crash after Google accepted the append but before the rows were marked:
    SheetRow.objects.update(status=SheetRow.Status.PENDING, sent_at=None)
    report = _sync(now=timezone.now() + timedelta(minutes=11))  # once the claim lease ran out
    assert report.mirrored == 0 and report.already_present == 5
    assert _mirrored_uuids(configured) == [str(event.uuid) for event in events]
    assert SheetRow.objects.filter(status=SheetRow.Status.SENT).count() == 5


def test_enqueue_is_idempotent_per_key():
    event = _events(1)[0]
    again = sheet_row_enqueue(tab="decision_log", uuid=event.uuid, values=["other"])
    assert again.values[1] == event.created_at.isoformat()
    assert SheetRow.objects.count() == 1
    with pytest.raises(ValueError, match="unknown Sheets tab 'decisions'"):
        sheet_row_enqueue(tab="decisions", uuid=event.uuid, values=[])


def test_a_429_then_success_in_one_sync(configured):
    _events(3)
    configured.fail_next(429)
    sleeps = Sleeps()
    report = _sync(sleep=sleeps)
    assert report.mirrored == 3 and report.ok
    assert len(sleeps) >= 1 and sum(sleeps) <= 30
    assert len(_mirrored_uuids(configured)) == 3


def _open_client(settings, sleeps):
    from bizagent.sheets import sheets_client_open, sheets_retry_policy

    return sheets_client_open(
        credentials_path=settings.SHEETS_CREDENTIALS,
        spreadsheet_id=settings.SHEETS_SPREADSHEET_ID,
        policy=sheets_retry_policy(budget=settings.SHEETS_RETRY_BUDGET),
        sleep=sleeps,
        rand=lambda: 0.5,
    )


class FaultAfterTabs:
    """The real client; Google starts failing right after the tabs were checked."""

    def __init__(self, client, fake, *, outage=None, fail_next=()):
        self.client, self.fake = client, fake
        self.outage, self.fail_next = outage, fail_next

    def tabs_ensure(self, tabs):
        created = self.client.tabs_ensure(tabs)
        self.fake.outage = self.outage
        self.fake.fail_next(*self.fail_next)
        return created

    def rows_append(self, **kwargs):
        return self.client.rows_append(**kwargs)


def test_a_permanent_429_while_opening_gives_up_within_the_budget(configured, settings):
    settings.SHEETS_RETRY_BUDGET = 5.0
    _events(2)
    configured.outage = 429
    sleeps = Sleeps()
    report = _sync(sleep=sleeps)
    assert report.blocked.startswith("cannot open the spreadsheet")
    assert "retry budget 5s spent: HTTP 429 RESOURCE_EXHAUSTED" in report.blocked
    assert sum(sleeps) <= 5.0
    assert SheetRow.objects.filter(status=SheetRow.Status.PENDING).count() == 2


def test_a_permanent_429_while_appending_backs_the_rows_off(configured, settings):
    settings.SHEETS_RETRY_BUDGET = 5.0
    _sync(ensure_tabs=True)
    _events(2)
    sleeps = Sleeps()
    # The quota runs out after the sheet was opened and its tabs checked.
    client = FaultAfterTabs(_open_client(settings, sleeps), configured, outage=429)
    report = _sync(client=client)
    assert report.mirrored == 0 and report.retrying == 2
    assert "429" in report.error
    assert sum(sleeps) <= 5.0
    waiting = SheetRow.objects.filter(status=SheetRow.Status.PENDING)
    assert waiting.count() == 2
    assert all(row.next_attempt_at > timezone.now() for row in waiting)
    assert all(row.attempts == 1 and "429" in row.last_error for row in waiting)
    # Backoff doubles per attempt and is capped at 30 minutes.
    for _ in range(8):
        SheetRow.objects.update(next_attempt_at=timezone.now())
        _sync(client=client)
    row = SheetRow.objects.first()
    assert row.attempts == 9
    assert row.next_attempt_at <= timezone.now() + timedelta(minutes=30)
    assert row.next_attempt_at >= timezone.now() + timedelta(minutes=15)


def test_a_long_outage_then_recovery_mirrors_every_row_exactly_once(configured):
    """Google is down for hours across many syncs while events keep coming."""
    _sync(ensure_tabs=True)
    configured.outage = 503
    written: list[AuditEvent] = []
    clock = timezone.now()
    for _hour in range(6):
        for _tick in range(12):  # every 5 minutes, as the schedule does
            clock += timedelta(minutes=5)
            written += _events(2)
            SheetRow.objects.filter(created_at__gt=clock - timedelta(minutes=5)).update(
                next_attempt_at=clock
            )
            report = _sync(now=clock)
            assert report.mirrored == 0 and report.blocked
    # Each sync gave up within its retry attempts: no sync hung on the outage.
    assert configured.count("metadata:failed") <= 72 * 4
    assert SheetRow.objects.filter(status=SheetRow.Status.PENDING).count() == len(written)

    configured.outage = None
    clock += timedelta(minutes=31)
    report = _sync(now=clock)
    assert report.pending == 0 and report.failed == 0
    assert sorted(_mirrored_uuids(configured)) == sorted(str(e.uuid) for e in written)
    assert len(_mirrored_uuids(configured)) == len(set(_mirrored_uuids(configured)))
    assert _sync(now=clock + timedelta(minutes=5)).mirrored == 0


def test_rows_google_rejects_fail_and_can_be_resubmitted(configured, settings):
    from decisions.mirror import sheet_rows_resubmit

    _sync(ensure_tabs=True)
    _events(2)
    client = FaultAfterTabs(_open_client(settings, Sleeps()), configured, fail_next=(400,))
    report = _sync(client=client)
    assert report.failed_now == 2 and report.failed == 2
    assert "INVALID_ARGUMENT" in report.error
    assert SheetRow.objects.filter(status=SheetRow.Status.FAILED).count() == 2
    assert _sync().mirrored == 0  # failed rows are not retried behind people's backs
    ids = SheetRow.objects.filter(status=SheetRow.Status.FAILED).values_list("id", flat=True)
    assert sheet_rows_resubmit(row_ids=ids) == 2
    assert _sync().mirrored == 2


def test_without_credentials_rows_wait_and_the_report_says_why(settings):
    settings.SHEETS_CREDENTIALS = ""
    _events(4)
    report = sheets_sync()
    assert report.blocked == "Sheets mirroring is off: BIZAGENT_SHEETS_CREDENTIALS is not set"
    assert report.pending == 4
    assert "BIZAGENT_SHEETS_CREDENTIALS" in sheets_sync_task()
    settings.SHEETS_CREDENTIALS = "/somewhere.json"
    settings.SHEETS_SPREADSHEET_ID = ""
    assert "BIZAGENT_SHEETS_SPREADSHEET_ID" in sheets_sync().blocked


def test_an_unreachable_spreadsheet_blocks_with_the_reason_on_the_rows(configured, settings):
    settings.SHEETS_SPREADSHEET_ID = "1NoSuchSpreadsheet000000000000000000000000"
    _events(2)
    report = _sync()
    assert report.blocked.startswith("cannot open the spreadsheet")
    assert report.pending == 2
    assert all(
        row.last_error.startswith("cannot open the spreadsheet") for row in SheetRow.objects.all()
    )


def test_the_scheduled_task_catches_up(configured):
    _events(3)
    assert sheets_sync_task().startswith("mirrored 3")
    assert len(_mirrored_uuids(configured)) == 3


def test_the_admin_shows_how_many_rows_wait(admin_client, settings):
    settings.SHEETS_CREDENTIALS = ""
    _events(7)
    page = admin_client.get("/admin/decisions/sheetrow/", follow=True)
    text = page.content.decode()
    assert "BIZAGENT_SHEETS_CREDENTIALS is not set" in text
    assert "7 rows are waiting" in text
    row = SheetRow.objects.first()
    assert admin_client.post(f"/admin/decisions/sheetrow/{row.pk}/delete/").status_code == 403


def test_a_fault_run_with_lost_append_answers_mirrors_every_row_once(configured):
    """The issue's fault run: 54 rows, and the answers to applied appends keep getting
    lost (timeouts, resets, 5xx). No row may appear twice and none may go missing."""
    import requests

    events = _events(54)
    configured.lose_next_append_responses(
        503, requests.ConnectionError, 500, requests.Timeout, 502, 503
    )
    configured.fail_next(429)  # and an ordinary refusal on top

    report = _sync(batch_size=5)
    while report.pending:  # whatever waits for a later sync goes out then
        report = _sync(batch_size=5, now=timezone.now() + timedelta(hours=1))

    mirrored = _mirrored_uuids(configured)
    assert sorted(mirrored) == sorted(str(event.uuid) for event in events)
    assert len(mirrored) == len(set(mirrored)) == 54
    assert SheetRow.objects.filter(status=SheetRow.Status.SENT).count() == 54
    assert configured.count("values.append:lost") == 6
