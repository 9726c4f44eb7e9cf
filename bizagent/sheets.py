"""Google Sheets client (gspread) with bounded retry, batching and de-duplication.

Infrastructure only: it knows tabs, header rows and rows whose first cell is a unique
key (a uuid), nothing about decisions or goals. The outbox that feeds it lives in
``decisions.mirror``.

Why not gspread's ``BackOffHTTPClient``: it retries a 429 forever (its give-up check
compares a wait that it resets), so one permanent quota problem would hang a worker.
Here every call gets a finite number of attempts *and* a total sleep budget, transient
and permanent failures are told apart, and the sleep function is injected so tests
never wait.
"""

from __future__ import annotations

import functools
import logging
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from http import HTTPStatus
from typing import Any, TypeVar

import gspread
import requests
from google.auth import exceptions as google_auth_exceptions
from google.oauth2.service_account import Credentials
from gspread.utils import InsertDataOption, ValueInputOption, absolute_range_name

from bizagent.retry import Failure, RetryPolicy, call_with_retry, retry_after_seconds

logger = logging.getLogger(__name__)

SCOPES = ("https://www.googleapis.com/auth/spreadsheets",)
# (connect, read) seconds for every HTTP call: a hung socket must not eat the budget.
HTTP_TIMEOUT = (10.0, 60.0)

Cell = str | int | float
T = TypeVar("T")


class SheetsError(Exception):
    """A Sheets operation failed. ``transient`` says whether trying later may succeed."""

    transient: bool = False


class SheetsConfigError(SheetsError):
    """Mirroring is not configured, or the credentials file cannot be used."""


class SheetsAuthError(SheetsError):
    """Google refused the service-account credentials."""


class SheetsNotFoundError(SheetsError):
    """The spreadsheet does not exist or is not shared with the service account."""


class SheetsPermanentError(SheetsError):
    """Google rejected the request; repeating it unchanged will fail again."""


class SheetsTransientError(SheetsError):
    """Quota, server or network trouble; the same request may succeed later."""

    transient = True


def _api_error_text(exc: gspread.exceptions.APIError) -> str:
    error = exc.error if isinstance(exc.error, Mapping) else {}
    status = error.get("status") or ""
    message = str(error.get("message") or "")[:300]
    return f"HTTP {exc.response.status_code} {status}: {message}".strip()


def sheets_error_classify(exc: BaseException) -> SheetsError:
    """Turn whatever gspread, google-auth or requests raised into a ``SheetsError``.

    429, 408 and 5xx and connection trouble are transient; other 4xx are permanent.
    """
    if isinstance(exc, SheetsError):
        return exc
    if isinstance(exc, gspread.exceptions.APIError):
        code = exc.response.status_code
        text = _api_error_text(exc)
        if code in (HTTPStatus.TOO_MANY_REQUESTS, HTTPStatus.REQUEST_TIMEOUT) or code >= 500:
            return SheetsTransientError(text)
        if code == HTTPStatus.NOT_FOUND:
            return SheetsNotFoundError(text)
        if code in (HTTPStatus.UNAUTHORIZED, HTTPStatus.FORBIDDEN):
            return SheetsAuthError(text)
        return SheetsPermanentError(text)
    if isinstance(exc, google_auth_exceptions.RefreshError):
        # The token endpoint answered and said no (bad key, deleted account). A
        # RefreshError marked retryable is Google's own 5xx/429 on the token endpoint.
        if getattr(exc, "retryable", False):
            return SheetsTransientError(f"token refresh failed: {exc}")
        return SheetsAuthError(f"Google rejected the service-account credentials: {exc}")
    if isinstance(exc, google_auth_exceptions.TransportError | requests.RequestException):
        return SheetsTransientError(f"cannot reach Google: {type(exc).__name__}: {exc}")
    if isinstance(exc, ConnectionError | TimeoutError):
        return SheetsTransientError(f"cannot reach Google: {type(exc).__name__}: {exc}")
    return SheetsPermanentError(f"{type(exc).__name__}: {exc}")


#: Sheets' default: "equal jitter" (at least half the backoff, so retries still spread
#: out), four tries, 30 seconds of waiting at most per call.
SHEETS_RETRY = RetryPolicy(attempts=4, base_delay=1.0, max_delay=16.0, budget=30.0, jitter="equal")


def sheets_retry_policy(**changes: Any) -> RetryPolicy:
    """Sheets' default policy with ``changes`` (``budget=…``, ``attempts=…``) applied."""
    return replace(SHEETS_RETRY, **changes)


def sheets_call_with_retry(
    fn: Callable[[], T],
    *,
    what: str,
    policy: RetryPolicy,
    sleep: Callable[[float], None] = time.sleep,
    rand: Callable[[], float] = random.random,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """Call ``fn``; retry transient failures within ``policy``; raise a ``SheetsError``."""

    def classify(exc: Exception) -> Failure:
        error = sheets_error_classify(exc)
        return Failure(error=error, retryable=error.transient, retry_after=retry_after_seconds(exc))

    def give_up(failure: Failure, attempt: int) -> SheetsError:
        return SheetsTransientError(
            f"{what}: gave up after {attempt} attempts, retry budget "
            f"{policy.budget:.0f}s spent: {failure.error}"
        )

    return call_with_retry(
        fn,
        policy=policy,
        classify=classify,
        what=f"sheets: {what}",
        on_give_up=give_up,
        sleep=sleep,
        clock=clock,
        rand=rand,
    )


@dataclass(frozen=True)
class AppendResult:
    appended: int
    already_present: int


class SheetsClient:
    """One opened spreadsheet. Build it with ``sheets_client_open``."""

    def __init__(
        self,
        *,
        spreadsheet: gspread.Spreadsheet,
        policy: RetryPolicy,
        sleep: Callable[[float], None],
        rand: Callable[[], float],
    ) -> None:
        self.spreadsheet = spreadsheet
        self.policy = policy
        self._sleep = sleep
        self._rand = rand
        self._worksheets: dict[str, gspread.Worksheet] | None = None

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        return sheets_call_with_retry(
            fn, what=what, policy=self.policy, sleep=self._sleep, rand=self._rand
        )

    def _worksheet_map(self) -> dict[str, gspread.Worksheet]:
        if self._worksheets is None:
            worksheets = self._call("list tabs", self.spreadsheet.worksheets)
            self._worksheets = {ws.title: ws for ws in worksheets}
        return self._worksheets

    def tabs_ensure(self, tabs: Mapping[str, Sequence[str]]) -> list[str]:
        """Create the missing tabs (one batchUpdate) and write their header rows.

        Returns the titles created. Existing tabs are left alone; a header missing
        from an existing empty tab is written by the next ``rows_append``.
        """
        existing = self._worksheet_map()
        missing = [title for title in tabs if title not in existing]
        if not missing:
            return []
        body = {
            "requests": [
                {
                    "addSheet": {
                        "properties": {
                            "title": title,
                            "sheetType": "GRID",
                            "gridProperties": {
                                "rowCount": 1000,
                                "columnCount": max(len(tabs[title]), 1),
                            },
                        }
                    }
                }
                for title in missing
            ]
        }
        reply = self._call("add tabs", lambda: self.spreadsheet.batch_update(body))
        for answer in reply.get("replies", []):
            properties = answer["addSheet"]["properties"]
            existing[properties["title"]] = gspread.Worksheet(
                self.spreadsheet, properties, self.spreadsheet.id, self.spreadsheet.client
            )
        for title in missing:
            header = [list(tabs[title])]
            self._call(
                f"write header of {title}",
                functools.partial(
                    self.spreadsheet.values_update,
                    absolute_range_name(title, "A1"),
                    params={"valueInputOption": ValueInputOption.raw},
                    body={"values": header},
                ),
            )
        return missing

    def _keys_read(self, *, title: str) -> list[str]:
        data = self.spreadsheet.values_get(
            absolute_range_name(title, "A:A"),
            params={"majorDimension": "COLUMNS", "valueRenderOption": "UNFORMATTED_VALUE"},
        )
        values = data.get("values") or [[]]
        return [str(value) for value in values[0]]

    def keys_present(self, *, title: str) -> list[str]:
        """The first column of ``title`` (header included), as strings."""
        return self._call(f"read keys of {title}", lambda: self._keys_read(title=title))

    def rows_append(
        self, *, title: str, header: Sequence[str], rows: Sequence[Sequence[Cell]]
    ) -> AppendResult:
        """Append ``rows`` (first cell = unique key) in one call, skipping keys already there.

        Never appends a row twice. An append whose answer was lost (timeout, reset
        connection, 5xx) may still have been applied by Google, so every attempt,
        retries included, first reads the key column again and sends only the rows
        not found there. The same read makes a later sync safe after a crash between
        Google's acceptance and the caller marking its rows.
        """
        if title not in self._worksheet_map():
            self.tabs_ensure({title: header})
        worksheet = self._worksheet_map()[title]
        wanted: dict[str, list[Cell]] = {}
        for row in rows:
            wanted.setdefault(str(row[0]), list(row))
        # How many were present before our first append: we appended the rest.
        present_at_start: list[int] = []

        def attempt() -> int:
            keys = self._keys_read(title=title)
            seen = set(keys[1:])
            fresh = [row for key, row in wanted.items() if key not in seen]
            if not present_at_start:
                present_at_start.append(len(wanted) - len(fresh))
            if fresh:
                values = fresh if keys else [list(header), *fresh]
                # One call, no retry of its own: a retry has to re-read the keys first.
                worksheet.append_rows(
                    values,
                    value_input_option=ValueInputOption.raw,
                    insert_data_option=InsertDataOption.insert_rows,
                    table_range="A1",
                )
            return len(fresh)

        sent = self._call(f"append {len(wanted)} rows to {title}", attempt)
        already_present = len(rows) - len(wanted) + present_at_start[0]
        appended = len(wanted) - present_at_start[0]
        if sent:
            logger.info("sheets: appended %d rows to %s", sent, title)
        return AppendResult(appended=appended, already_present=already_present)


def sheets_client_open(
    *,
    credentials_path: str | None,
    spreadsheet_id: str | None,
    policy: RetryPolicy | None = None,
    sleep: Callable[[float], None] = time.sleep,
    rand: Callable[[], float] = random.random,
) -> SheetsClient:
    """Open the spreadsheet with service-account credentials.

    Raises ``SheetsConfigError`` (not configured, unreadable or malformed key file),
    ``SheetsAuthError`` (Google refused the key or the sheet is not shared),
    ``SheetsNotFoundError`` or ``SheetsTransientError``. Messages never contain the key.
    """
    if not credentials_path:
        raise SheetsConfigError("BIZAGENT_SHEETS_CREDENTIALS is not set")
    if not spreadsheet_id:
        raise SheetsConfigError("BIZAGENT_SHEETS_SPREADSHEET_ID is not set")
    try:
        credentials = Credentials.from_service_account_file(credentials_path, scopes=SCOPES)
    except FileNotFoundError:
        raise SheetsConfigError(
            f"BIZAGENT_SHEETS_CREDENTIALS points to a missing file: {credentials_path}"
        ) from None
    except OSError as exc:
        raise SheetsConfigError(
            f"cannot read BIZAGENT_SHEETS_CREDENTIALS file {credentials_path}: {exc.strerror}"
        ) from None
    except (ValueError, KeyError):
        # The exception text may quote the file's content (a private key): never show it.
        raise SheetsConfigError(
            f"BIZAGENT_SHEETS_CREDENTIALS file {credentials_path} is not a valid "
            "service-account JSON key"
        ) from None
    policy = policy or SHEETS_RETRY
    client = gspread.Client(auth=credentials)
    client.set_timeout(HTTP_TIMEOUT)

    def open_spreadsheet() -> gspread.Spreadsheet:
        try:
            return client.open_by_key(spreadsheet_id)
        except gspread.exceptions.SpreadsheetNotFound:
            raise SheetsNotFoundError(
                f"spreadsheet {spreadsheet_id} not found (check BIZAGENT_SHEETS_SPREADSHEET_ID)"
            ) from None
        except PermissionError:
            # gspread maps a 403 on open to PermissionError.
            raise SheetsAuthError(
                f"spreadsheet {spreadsheet_id} is not shared with the service account "
                f"{credentials.service_account_email}"
            ) from None

    spreadsheet = sheets_call_with_retry(
        open_spreadsheet, what="open spreadsheet", policy=policy, sleep=sleep, rand=rand
    )
    return SheetsClient(spreadsheet=spreadsheet, policy=policy, sleep=sleep, rand=rand)
