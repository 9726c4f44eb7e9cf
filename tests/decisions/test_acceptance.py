"""The issue's "done when", end to end without a browser (the browser test drives the
queue itself): a decision requested from the shell appears in the admin queue, the mail
reaches a real SMTP server, its link approves it, the action runs once with its audit
rows, and ``sync_sheets`` says why it cannot mirror, then mirrors every row once."""

from __future__ import annotations

import re
from io import StringIO
from urllib.parse import urlparse

import pytest
from django.core.management import CommandError, call_command

from decisions.models import AuditEvent, Budget, Decision, SheetRow
from tests.decisions.factories import BudgetFactory
from tests.google_sheets import SPREADSHEET_ID

pytestmark = pytest.mark.django_db(transaction=True)


def test_request_mail_link_approve_apply_and_mirror(
    alice, bob, charlie, client, smtp_server, q_sync, settings, google_sheets, service_account_file
):
    settings.SITE_URL = "http://127.0.0.1:8080"
    settings.SHEETS_CREDENTIALS = ""
    settings.SHEETS_SPREADSHEET_ID = ""
    budget = BudgetFactory()

    call_command(
        "decision_request",
        "--kind=budget_overrun",
        "--title=Raise the ads budget to 130,000 JPY",
        "--situation=Ads are converting at 4%; the month is forecast at 130,000 JPY.",
        "--action=decisions.budget_limit_set",
        "--args",
        f'{{"budget_id": {budget.pk}, "limit": "130000"}}',
        "--option=raise=Raise to 130,000 JPY",
        "--option=reject=Keep 100,000 JPY",
        stdout=StringIO(),
    )
    decision = Decision.objects.get()

    # The approver sees it first thing in the admin.
    client.force_login(alice)
    index = client.get("/admin/")
    assert index.status_code == 200
    queue = client.get("/admin/decisions/decision/queue/")
    assert "Raise the ads budget to 130,000 JPY" in queue.content.decode()

    # One mail, to the approver only, with both parts and a personal link.
    [mail] = smtp_server.messages
    assert mail.rcpt_tos == ["alice@example.com"]
    assert mail.message["Subject"] == "Decision needed: Raise the ads budget to 130,000 JPY"
    text, html = mail.part("text/plain"), mail.part("text/html")
    assert "forecast at 130,000 JPY" in text and "forecast at 130,000 JPY" in html
    [url] = re.findall(r"http://127\.0\.0\.1:8080/\S+/link/\S+/", text)
    assert url in html
    path = urlparse(url).path

    # Following the link (logged out, as from a phone) changes nothing until POST.
    client.logout()
    page = client.get(path)
    assert page.status_code == 200
    assert Decision.objects.get(pk=decision.pk).status == Decision.Status.PENDING
    done = client.post(path, {"action": "approve", "option_key": "raise", "comment": "go"})
    assert done.status_code == 200

    decision.refresh_from_db()
    assert decision.status == Decision.Status.APPLIED
    assert decision.decided_by == alice and decision.comment == "go"
    assert Budget.objects.get(pk=budget.pk).limit == 130000
    trail = list(
        AuditEvent.objects.for_subject(decision).order_by("id").values_list("action", "actor")
    )
    assert trail == [
        ("decisions.decision_requested", None),
        ("decisions.decision_approved", alice.pk),
        ("decisions.decision_applied", None),
    ]
    assert AuditEvent.objects.filter(action="decisions.budget_updated").count() == 1
    # The link is spent: a second POST is refused and nothing runs again.
    again = client.post(path, {"action": "approve", "option_key": "raise"})
    assert again.status_code >= 400
    assert AuditEvent.objects.filter(action="decisions.budget_updated").count() == 1
    # The outcome mail followed.
    subjects = [m.message["Subject"] for m in smtp_server.messages]
    assert len(subjects) == 2 and subjects[1].startswith("Decision ")

    # No credentials: sync_sheets says exactly why, and every row waits.
    events = AuditEvent.objects.count()
    with pytest.raises(CommandError, match="BIZAGENT_SHEETS_CREDENTIALS is not set"):
        call_command("sync_sheets", stdout=StringIO())
    assert SheetRow.objects.filter(status=SheetRow.Status.PENDING).count() == events

    # Configured: every row lands in decision_log once, and again mirrors nothing.
    settings.SHEETS_CREDENTIALS = str(service_account_file)
    settings.SHEETS_SPREADSHEET_ID = SPREADSHEET_ID
    out = StringIO()
    call_command("sync_sheets", stdout=out)
    assert f"Mirrored {events} rows" in out.getvalue()
    rows = google_sheets.rows("decision_log")
    uuids = {str(event.uuid) for event in AuditEvent.objects.all()}
    mirrored = [cell for row in rows[1:] for cell in row if cell in uuids]
    assert sorted(mirrored) == sorted(uuids)
    out = StringIO()
    call_command("sync_sheets", stdout=out)
    assert "Mirrored 0 rows" in out.getvalue()
    assert len(google_sheets.rows("decision_log")) == len(rows)
