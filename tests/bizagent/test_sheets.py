"""bizagent.sheets against the fake Sheets API (real endpoints and JSON shapes)."""

from __future__ import annotations

import pytest
import requests

from bizagent.sheets import (
    SheetsAuthError,
    SheetsConfigError,
    SheetsNotFoundError,
    SheetsPermanentError,
    SheetsTransientError,
    sheets_client_open,
    sheets_retry_policy,
)
from tests.google_sheets import SPREADSHEET_ID

TABS = {
    "decision_log": ["event_uuid", "occurred_at", "action"],
    "goals_tracker": ["row_uuid", "goal"],
}


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def open_client(path, sleeps=None, policy=None, spreadsheet_id=SPREADSHEET_ID):
    return sheets_client_open(
        credentials_path=str(path),
        spreadsheet_id=spreadsheet_id,
        policy=policy or sheets_retry_policy(),
        sleep=sleeps if sleeps is not None else Sleeps(),
        rand=lambda: 0.5,
    )


def test_it_creates_missing_tabs_with_header_rows(google_sheets, service_account_file):
    client = open_client(service_account_file)

    created = client.tabs_ensure(TABS)

    assert created == ["decision_log", "goals_tracker"]
    assert google_sheets.count("batchUpdate") == 1  # both tabs in one request
    assert google_sheets.rows("decision_log") == [["event_uuid", "occurred_at", "action"]]
    assert google_sheets.rows("goals_tracker") == [["row_uuid", "goal"]]
    assert google_sheets.token_requests == 1


def test_it_leaves_existing_tabs_alone(google_sheets, service_account_file):
    google_sheets.add_tab(
        "decision_log", [["event_uuid", "occurred_at", "action"], ["u1", "t", "a"]]
    )
    google_sheets.add_tab("goals_tracker", [["row_uuid", "goal"]])
    client = open_client(service_account_file)

    assert client.tabs_ensure(TABS) == []
    assert google_sheets.count("batchUpdate") == 0
    assert google_sheets.count("values.update") == 0
    assert len(google_sheets.rows("decision_log")) == 2


def test_it_appends_many_rows_in_one_call(google_sheets, service_account_file):
    client = open_client(service_account_file)
    client.tabs_ensure(TABS)
    rows = [[f"uuid-{n}", "2026-01-01T00:00:00+00:00", "decision.requested"] for n in range(250)]

    result = client.rows_append(title="decision_log", header=TABS["decision_log"], rows=rows)

    assert (result.appended, result.already_present) == (250, 0)
    assert google_sheets.count("values.append") == 1
    assert google_sheets.rows("decision_log")[1:] == rows


def test_it_skips_rows_whose_key_is_already_in_the_sheet(google_sheets, service_account_file):
    # A crash after Google accepted an append but before we recorded it: the retry
    # must find those rows by key and not append them twice.
    google_sheets.add_tab("decision_log", [TABS["decision_log"], ["uuid-1", "t", "a"]])
    client = open_client(service_account_file)
    rows = [["uuid-1", "t", "a"], ["uuid-2", "t", "b"], ["uuid-2", "t", "b"]]

    result = client.rows_append(title="decision_log", header=TABS["decision_log"], rows=rows)

    assert (result.appended, result.already_present) == (1, 2)
    assert [row[0] for row in google_sheets.rows("decision_log")] == [
        "event_uuid",
        "uuid-1",
        "uuid-2",
    ]


def test_it_makes_no_append_when_every_row_is_present(google_sheets, service_account_file):
    google_sheets.add_tab("decision_log", [TABS["decision_log"], ["uuid-1", "t", "a"]])
    client = open_client(service_account_file)

    result = client.rows_append(
        title="decision_log", header=TABS["decision_log"], rows=[["uuid-1", "t", "a"]]
    )

    assert (result.appended, result.already_present) == (0, 1)
    assert google_sheets.count("values.append") == 0


def test_it_writes_the_header_into_an_empty_existing_tab(google_sheets, service_account_file):
    google_sheets.add_tab("decision_log")
    client = open_client(service_account_file)

    client.rows_append(title="decision_log", header=TABS["decision_log"], rows=[["u", "t", "a"]])

    assert google_sheets.rows("decision_log") == [TABS["decision_log"], ["u", "t", "a"]]
    assert google_sheets.count("values.append") == 1


def test_it_retries_a_429_then_succeeds(google_sheets, service_account_file):
    sleeps = Sleeps()
    client = open_client(service_account_file, sleeps)
    client.tabs_ensure(TABS)
    google_sheets.fail_next(429)

    result = client.rows_append(title="decision_log", header=TABS["decision_log"], rows=[["u"]])

    assert result.appended == 1
    assert sleeps == [0.75]  # base 1s, equal jitter with rand=0.5
    assert google_sheets.count("values.append") == 1


def test_it_retries_5xx_and_connection_errors(google_sheets, service_account_file):
    sleeps = Sleeps()
    client = open_client(service_account_file, sleeps)
    client.tabs_ensure(TABS)
    google_sheets.fail_next(503, requests.ConnectionError)

    result = client.rows_append(title="decision_log", header=TABS["decision_log"], rows=[["u"]])

    assert result.appended == 1
    assert len(sleeps) == 2


def test_it_gives_up_on_a_permanent_429_within_its_attempts(google_sheets, service_account_file):
    sleeps = Sleeps()
    client = open_client(service_account_file, sleeps, sheets_retry_policy(attempts=4, budget=1000))
    client.tabs_ensure(TABS)
    google_sheets.outage = 429

    with pytest.raises(SheetsTransientError, match="RESOURCE_EXHAUSTED"):
        client.rows_append(title="decision_log", header=TABS["decision_log"], rows=[["u"]])

    assert len(sleeps) == 3
    assert google_sheets.count("values.get:failed") == 4


def test_it_stops_when_the_retry_budget_is_spent(google_sheets, service_account_file):
    sleeps = Sleeps()
    policy = sheets_retry_policy(attempts=50, base_delay=1, max_delay=8, budget=10)
    client = open_client(service_account_file, sleeps, policy)
    client.tabs_ensure(TABS)
    google_sheets.outage = 429

    with pytest.raises(SheetsTransientError, match="retry budget"):
        client.rows_append(title="decision_log", header=TABS["decision_log"], rows=[["u"]])

    assert sum(sleeps) <= 10
    assert len(sleeps) < 50


def test_it_does_not_retry_a_permanent_error(google_sheets, service_account_file):
    sleeps = Sleeps()
    client = open_client(service_account_file, sleeps)
    client.tabs_ensure(TABS)
    google_sheets.fail_next(400)

    with pytest.raises(SheetsPermanentError, match="INVALID_ARGUMENT"):
        client.rows_append(title="decision_log", header=TABS["decision_log"], rows=[["u"]])

    assert sleeps == []


def test_it_reports_a_missing_spreadsheet(google_sheets, service_account_file):
    with pytest.raises(SheetsNotFoundError, match="not-a-sheet"):
        open_client(service_account_file, spreadsheet_id="not-a-sheet")


def test_it_reports_an_unshared_spreadsheet(google_sheets, service_account_file):
    google_sheets.fail_next(403)

    with pytest.raises(SheetsAuthError, match="not shared with the service account mirror@"):
        open_client(service_account_file)


def test_it_reports_rejected_credentials(google_sheets, service_account_file):
    google_sheets.reject_token = True

    with pytest.raises(SheetsAuthError, match="invalid_grant"):
        open_client(service_account_file)


def test_it_reports_missing_configuration():
    with pytest.raises(SheetsConfigError, match="BIZAGENT_SHEETS_CREDENTIALS is not set"):
        sheets_client_open(credentials_path=None, spreadsheet_id=SPREADSHEET_ID)
    with pytest.raises(SheetsConfigError, match="BIZAGENT_SHEETS_SPREADSHEET_ID is not set"):
        sheets_client_open(credentials_path="/x.json", spreadsheet_id="")


def test_it_reports_a_missing_credentials_file(tmp_path):
    with pytest.raises(SheetsConfigError, match="missing file"):
        sheets_client_open(
            credentials_path=str(tmp_path / "nope.json"), spreadsheet_id=SPREADSHEET_ID
        )


def test_it_never_shows_the_content_of_a_bad_credentials_file(tmp_path):
    path = tmp_path / "key.json"
    path.write_text('{"type": "service_account", "private_key": "SECRET-KEY-MATERIAL"}')

    with pytest.raises(SheetsConfigError, match="not a valid service-account JSON key") as info:
        sheets_client_open(credentials_path=str(path), spreadsheet_id=SPREADSHEET_ID)

    assert "SECRET-KEY-MATERIAL" not in str(info.value)
    assert info.value.__cause__ is None


def test_it_honours_retry_after_within_the_budget(google_sheets, service_account_file):
    sleeps = Sleeps()
    client = open_client(service_account_file, sleeps)
    client.tabs_ensure(TABS)
    google_sheets.retry_after = "5"
    google_sheets.fail_next(429)

    client.rows_append(title="decision_log", header=TABS["decision_log"], rows=[["u"]])

    assert sleeps == [5.0]


@pytest.mark.parametrize("lost", [503, 500, requests.ConnectionError, requests.Timeout])
def test_an_append_whose_answer_was_lost_is_not_sent_again(
    google_sheets, service_account_file, lost
):
    # Google applied the append, but the answer never arrived: the retry must read
    # the key column again and find the rows there, not append them a second time.
    sleeps = Sleeps()
    client = open_client(service_account_file, sleeps)
    client.tabs_ensure(TABS)
    google_sheets.lose_next_append_responses(lost)
    rows = [[f"uuid-{n}", "t", "a"] for n in range(3)]

    result = client.rows_append(title="decision_log", header=TABS["decision_log"], rows=rows)

    assert google_sheets.rows("decision_log") == [TABS["decision_log"], *rows]
    assert google_sheets.count("values.append") == 1
    assert (result.appended, result.already_present) == (3, 0)
    assert len(sleeps) == 1


def test_answers_lost_again_and_again_never_duplicate_or_drop_a_row(
    google_sheets, service_account_file
):
    client = open_client(
        service_account_file, Sleeps(), sheets_retry_policy(attempts=4, budget=1000)
    )
    client.tabs_ensure(TABS)
    sent: list[list[str]] = []
    for batch, lost in enumerate([503, requests.ConnectionError, 502, requests.Timeout, 500]):
        google_sheets.lose_next_append_responses(lost)
        rows = [[f"b{batch}-{n}", "t", "a"] for n in range(3)]
        # Each batch also carries the previous one again, as a re-claimed outbox would.
        result = client.rows_append(
            title="decision_log", header=TABS["decision_log"], rows=[*sent[-3:], *rows]
        )
        assert (result.appended, result.already_present) == (3, len(sent[-3:]))
        sent.extend(rows)

    assert google_sheets.rows("decision_log") == [TABS["decision_log"], *sent]
    assert google_sheets.count("values.append") == 5
    assert google_sheets.count("values.append:lost") == 5


def test_an_append_into_an_empty_tab_with_a_lost_answer_writes_the_header_once(
    google_sheets, service_account_file
):
    google_sheets.add_tab("decision_log")
    client = open_client(service_account_file)
    google_sheets.lose_next_append_responses(503)

    client.rows_append(title="decision_log", header=TABS["decision_log"], rows=[["u", "t", "a"]])

    assert google_sheets.rows("decision_log") == [TABS["decision_log"], ["u", "t", "a"]]
