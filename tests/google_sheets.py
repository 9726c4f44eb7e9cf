"""A fake Google Sheets API v4 at the HTTP level, for ``responses``.

It answers the real endpoints with Google's real JSON shapes (OAuth token, spreadsheet
metadata, ``:batchUpdate`` addSheet, ``values`` get/update/append, error bodies) and
keeps the sheet contents, so tests can assert what landed in the sheet. Faults are
injected per request: ``fail_next(429)`` queues errors, ``outage`` fails everything,
``lose_next_append_responses(503)`` applies the next appends but loses their answers.
Anything not matched here is refused by ``responses`` with a ConnectionError, so a
test can never reach the real Google.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

import pytest
import requests
import responses
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

TOKEN_URL = "https://oauth2.googleapis.com/token"
API = "https://sheets.googleapis.com/v4/spreadsheets"
SPREADSHEET_ID = "1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms"

_STATUS_TEXT = {
    400: "INVALID_ARGUMENT",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}
_MESSAGES = {
    400: "Invalid values[1][0]: struct_value",
    403: "The caller does not have permission",
    404: "Requested entity was not found.",
    429: "Quota exceeded for quota metric 'Write requests' and limit 'Write requests per "
    "minute per user' of service 'sheets.googleapis.com' for consumer "
    "'project_number:1234567890'.",
    500: "Internal error encountered.",
    503: "The service is currently unavailable.",
}


def google_error(code: int) -> dict[str, Any]:
    return {
        "error": {
            "code": code,
            "message": _MESSAGES.get(code, "Error"),
            "status": _STATUS_TEXT.get(code, "UNKNOWN"),
        }
    }


def _split_range(a1: str) -> tuple[str, str]:
    """``'decision_log'!A:A`` -> (``decision_log``, ``A:A``)."""
    sheet, _, cells = a1.rpartition("!")
    if not sheet:
        sheet, cells = a1, ""
    if sheet.startswith("'") and sheet.endswith("'"):
        sheet = sheet[1:-1].replace("''", "'")
    return sheet, cells


@dataclass
class FakeTab:
    sheet_id: int
    title: str
    index: int
    rows: list[list[Any]] = field(default_factory=list)

    def properties(self) -> dict[str, Any]:
        return {
            "sheetId": self.sheet_id,
            "title": self.title,
            "index": self.index,
            "sheetType": "GRID",
            "gridProperties": {"rowCount": max(1000, len(self.rows)), "columnCount": 26},
        }


@dataclass
class FakeGoogleSheets:
    spreadsheet_id: str = SPREADSHEET_ID
    title: str = "bizagent"
    tabs: dict[str, FakeTab] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)
    failures: list[int | type[Exception]] = field(default_factory=list)
    outage: int | type[Exception] | None = None
    lost_append_responses: list[int | type[Exception]] = field(default_factory=list)
    token_requests: int = 0
    reject_token: bool = False
    retry_after: str | None = None

    def __post_init__(self) -> None:
        self.add_tab("Sheet1")

    # --- test helpers ---------------------------------------------------------------
    def add_tab(self, title: str, rows: list[list[Any]] | None = None) -> FakeTab:
        tab = FakeTab(sheet_id=len(self.tabs) * 1000 + 7, title=title, index=len(self.tabs))
        tab.rows = [list(row) for row in rows or []]
        self.tabs[title] = tab
        return tab

    def rows(self, title: str) -> list[list[Any]]:
        return self.tabs[title].rows

    def fail_next(self, *codes: int | type[Exception]) -> None:
        """The next requests to the Sheets API fail with these statuses or exceptions."""
        self.failures.extend(codes)

    def lose_next_append_responses(self, *codes: int | type[Exception]) -> None:
        """The next appends land in the sheet, but the client gets this status or
        exception instead of the answer (a timeout, a reset, a 5xx from a proxy)."""
        self.lost_append_responses.extend(codes)

    def count(self, kind: str) -> int:
        return sum(1 for call_kind, _ in self.calls if call_kind == kind)

    # --- responses plumbing ---------------------------------------------------------
    def install(self, mock: responses.RequestsMock) -> None:
        mock.add_callback(responses.POST, TOKEN_URL, callback=self._token)
        base = re.escape(f"{API}/{self.spreadsheet_id}")
        mock.add_callback(
            responses.POST, re.compile(rf"{base}/values/[^/?]+:append"), callback=self._append
        )
        mock.add_callback(
            responses.GET, re.compile(rf"{base}/values/[^/?:]+"), callback=self._values_get
        )
        mock.add_callback(
            responses.PUT, re.compile(rf"{base}/values/[^/?:]+"), callback=self._values_update
        )
        mock.add_callback(
            responses.POST, re.compile(rf"{base}:batchUpdate"), callback=self._batch_update
        )
        mock.add_callback(responses.GET, re.compile(rf"{base}(\?.*)?$"), callback=self._metadata)
        mock.add_callback(
            responses.GET,
            re.compile(rf"{re.escape(API)}/(?!{re.escape(self.spreadsheet_id)}\b)[^/?:]+(\?.*)?$"),
            callback=lambda request: self._json(404, google_error(404)),
        )

    @staticmethod
    def _json(status: int, body: dict[str, Any]) -> tuple[int, dict[str, str], str]:
        return status, {"Content-Type": "application/json; charset=UTF-8"}, json.dumps(body)

    def _fault(self, kind: str) -> tuple[int, dict[str, str], str] | None:
        fault = self.failures.pop(0) if self.failures else self.outage
        if fault is None:
            return None
        self.calls.append((f"{kind}:failed", ""))
        if isinstance(fault, type):
            raise fault(f"fake outage during {kind}")
        status, headers, body = self._json(fault, google_error(fault))
        if fault == 429 and self.retry_after is not None:
            headers["Retry-After"] = self.retry_after
        return status, headers, body

    def _token(self, request: requests.PreparedRequest):
        self.token_requests += 1
        form = parse_qs(request.body if isinstance(request.body, str) else request.body.decode())
        assert form["grant_type"] == ["urn:ietf:params:oauth:grant-type:jwt-bearer"]
        assert form["assertion"][0].count(".") == 2  # a signed JWT
        if self.reject_token:
            return self._json(
                400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}
            )
        return self._json(
            200, {"access_token": "ya29.fake-token", "expires_in": 3599, "token_type": "Bearer"}
        )

    def _authorized(self, request: requests.PreparedRequest) -> None:
        assert request.headers.get("Authorization") == "Bearer ya29.fake-token"

    def _metadata(self, request: requests.PreparedRequest):
        self._authorized(request)
        if fault := self._fault("metadata"):
            return fault
        self.calls.append(("metadata", ""))
        return self._json(
            200,
            {
                "spreadsheetId": self.spreadsheet_id,
                "properties": {
                    "title": self.title,
                    "locale": "en_US",
                    "autoRecalc": "ON_CHANGE",
                    "timeZone": "Etc/GMT",
                },
                "sheets": [{"properties": tab.properties()} for tab in self.tabs.values()],
                "spreadsheetUrl": f"https://docs.google.com/spreadsheets/d/{self.spreadsheet_id}/edit",
            },
        )

    def _batch_update(self, request: requests.PreparedRequest):
        self._authorized(request)
        if fault := self._fault("batchUpdate"):
            return fault
        self.calls.append(("batchUpdate", ""))
        replies = []
        for item in json.loads(request.body)["requests"]:
            title = item["addSheet"]["properties"]["title"]
            if title in self.tabs:
                return self._json(400, google_error(400))
            replies.append({"addSheet": {"properties": self.add_tab(title).properties()}})
        return self._json(200, {"spreadsheetId": self.spreadsheet_id, "replies": replies})

    def _range_of(self, request: requests.PreparedRequest) -> tuple[str, str, str]:
        path = urlparse(request.url).path
        raw = path.split("/values/", 1)[1].removesuffix(":append")
        a1 = unquote(raw)
        title, cells = _split_range(a1)
        return a1, title, cells

    def _values_get(self, request: requests.PreparedRequest):
        self._authorized(request)
        if fault := self._fault("values.get"):
            return fault
        a1, title, cells = self._range_of(request)
        self.calls.append(("values.get", a1))
        if title not in self.tabs:
            return self._json(400, google_error(400))
        query = parse_qs(urlparse(request.url).query)
        rows = self.tabs[title].rows
        if cells != "A:A":
            # A range read by rows (the goals' past-performance source): Google answers
            # the rows from the range's first row on, trailing empty rows left out.
            first = int("".join(ch for ch in cells.split(":")[0] if ch.isdigit()) or 1)
            assert query.get("majorDimension", ["ROWS"]) == ["ROWS"], "unexpected read"
            found: dict[str, Any] = {"range": a1, "majorDimension": "ROWS"}
            if rows[first - 1 :]:
                found["values"] = rows[first - 1 :]
            return self._json(200, found)
        assert query["majorDimension"] == ["COLUMNS"], "unexpected read"
        body: dict[str, Any] = {
            "range": f"{title}!A1:A{max(len(rows), 1000)}",
            "majorDimension": "COLUMNS",
        }
        if rows:
            body["values"] = [[row[0] for row in rows]]
        return self._json(200, body)

    def _values_update(self, request: requests.PreparedRequest):
        self._authorized(request)
        if fault := self._fault("values.update"):
            return fault
        a1, title, cells = self._range_of(request)
        self.calls.append(("values.update", a1))
        assert cells == "A1", "the client only writes header rows at A1"
        values = json.loads(request.body)["values"]
        tab = self.tabs[title]
        tab.rows[: len(values)] = values
        width = max(len(row) for row in values)
        return self._json(
            200,
            {
                "spreadsheetId": self.spreadsheet_id,
                "updatedRange": f"{title}!A1:{chr(64 + width)}{len(values)}",
                "updatedRows": len(values),
                "updatedColumns": width,
                "updatedCells": sum(len(row) for row in values),
            },
        )

    def _append(self, request: requests.PreparedRequest):
        self._authorized(request)
        if fault := self._fault("values.append"):
            return fault
        a1, title, _ = self._range_of(request)
        query = parse_qs(urlparse(request.url).query)
        assert query["valueInputOption"] == ["RAW"]
        self.calls.append(("values.append", a1))
        values = json.loads(request.body)["values"]
        tab = self.tabs[title]
        start = len(tab.rows) + 1
        table_range = (
            f"{title}!A1:{chr(64 + max(len(r) for r in tab.rows))}{start - 1}" if tab.rows else ""
        )
        tab.rows.extend(values)
        width = max(len(row) for row in values)
        end = start + len(values) - 1
        body: dict[str, Any] = {
            "spreadsheetId": self.spreadsheet_id,
            "updates": {
                "spreadsheetId": self.spreadsheet_id,
                "updatedRange": f"{title}!A{start}:{chr(64 + width)}{end}",
                "updatedRows": len(values),
                "updatedColumns": width,
                "updatedCells": sum(len(row) for row in values),
            },
        }
        if table_range:
            body["tableRange"] = table_range
        if self.lost_append_responses:
            lost = self.lost_append_responses.pop(0)
            self.calls.append(("values.append:lost", a1))
            if isinstance(lost, type):
                raise lost(f"fake: the answer to an applied append was lost ({a1})")
            return self._json(lost, google_error(lost))
        return self._json(200, body)


@pytest.fixture(scope="session")
def service_account_info() -> dict[str, str]:
    """A service-account key with a throwaway RSA key, in Google's JSON layout."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return {
        "type": "service_account",
        "project_id": "bizagent-test",
        "private_key_id": "0123456789abcdef0123456789abcdef01234567",
        "private_key": pem,
        "client_email": "mirror@bizagent-test.iam.gserviceaccount.com",
        "client_id": "100000000000000000001",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": TOKEN_URL,
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "client_x509_cert_url": "https://www.googleapis.com/robot/v1/metadata/x509/mirror",
        "universe_domain": "googleapis.com",
    }


@pytest.fixture
def service_account_file(tmp_path: Path, service_account_info: dict[str, str]) -> Path:
    path = tmp_path / "service-account.json"
    path.write_text(json.dumps(service_account_info))
    return path


@pytest.fixture
def google_sheets() -> Iterator[FakeGoogleSheets]:
    """The fake Sheets API, installed for this test; every other URL is refused."""
    fake = FakeGoogleSheets()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        fake.install(mock)
        yield fake
