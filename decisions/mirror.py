"""The Google Sheets mirror: an outbox (``SheetRow``) drained by ``sheets_sync``.

Writers call ``sheet_row_enqueue`` inside their own transaction (``audit_log`` does it
for every audit event), so a row exists exactly when the thing it mirrors was
committed. ``sheets_sync`` runs outside any transaction: it claims due rows with a
compare-and-set, talks to Google, then marks them. Nothing is ever deleted:

* not configured -> rows wait (pending), the admin shows how many;
* quota, outage, network, revoked access -> rows stay pending with a growing, capped
  backoff (``next_attempt_at``), and the django-q2 schedule catches up later;
* Google rejects the request itself (a 400) -> rows become ``failed`` with the reason,
  and an admin action resubmits them once the cause is fixed;
* a crash after Google accepted an append but before we marked the rows -> the claim
  lease runs out, the rows are claimed again, and the key column read by
  ``SheetsClient.rows_append`` keeps them from being appended twice.
"""

from __future__ import annotations

import json
import logging
import random
import time
import uuid as uuid_lib
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from bizagent.leases import LeaseFields, lease_claim, lease_release
from bizagent.sheets import (
    AppendResult,
    SheetsError,
    SheetsPermanentError,
    sheets_client_open,
    sheets_retry_policy,
)
from bizagent.sql import rows_insert
from decisions.models import AuditEvent, SheetRow

logger = logging.getLogger(__name__)

DECISION_LOG = "decision_log"
GOALS_TRACKER = "goals_tracker"
PERFORMANCE_METRICS = "performance_metrics"

# Tab -> header row. The first column is always the row's uuid (the idempotency key).
SHEET_TABS: dict[str, tuple[str, ...]] = {
    DECISION_LOG: ("event_uuid", "occurred_at", "action", "actor", "subject", "data"),
    GOALS_TRACKER: (
        "row_uuid",
        "recorded_at",
        "goal_id",
        "goal",
        "target_amount",
        "currency",
        "deadline",
        "achieved_amount",
        "progress_pct",
        "status",
        # Appended (not inserted) so rows already in a sheet keep their columns.
        "forecast",
    ),
    PERFORMANCE_METRICS: (
        "row_uuid",
        "recorded_at",
        "metric",
        "value",
        "unit",
        "period_start",
        "period_end",
        "goal_id",
        "source",
        "run_rate",
    ),
}

# A claim is a lease: if the process dies mid-sync, the rows become due again after it.
# It must outlast one batch (a few calls, each bounded by the retry budget and timeouts).
CLAIM_LEASE = timedelta(minutes=10)
#: The claim's columns on ``SheetRow`` (``bizagent.leases``); an unclaimed row holds None.
SHEET_ROW_LEASE = LeaseFields(owner="claim", expires_at="claim_expires_at", unowned=None)
# Backoff between syncs for rows that could not be mirrored: 1 min doubling to 30 min.
ROW_BACKOFF_BASE = timedelta(minutes=1)
ROW_BACKOFF_CAP = timedelta(minutes=30)
ERROR_MAX_CHARS = 500


class MirrorClient(Protocol):
    def tabs_ensure(self, tabs: dict[str, Sequence[str]]) -> list[str]: ...

    def rows_append(
        self, *, title: str, header: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> AppendResult: ...


@dataclass
class SyncReport:
    """What one ``sheets_sync`` did, for the command, the task result and logs."""

    mirrored: int = 0
    already_present: int = 0
    retrying: int = 0
    failed_now: int = 0
    pending: int = 0
    failed: int = 0
    tabs_created: list[str] = field(default_factory=list)
    # Set when mirroring did not run at all (not configured, cannot open the sheet).
    blocked: str = ""
    # The last error met while mirroring, if any.
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.blocked and not self.error

    def summary(self) -> str:
        text = (
            f"mirrored {self.mirrored}, already in sheet {self.already_present}, "
            f"pending {self.pending}, failed {self.failed}"
        )
        if self.blocked:
            return f"{self.blocked}; {text}"
        if self.error:
            return f"{text}; last error: {self.error}"
        return text


# --- enqueue ---------------------------------------------------------------------------


def _cell(value: Any) -> str | int | float:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def sheet_row_enqueue(
    *, tab: str, uuid: uuid_lib.UUID | str, values: Sequence[Any], now: datetime | None = None
) -> SheetRow:
    """Queue one row for ``tab``; ``values`` start after the uuid column.

    Idempotent on ``uuid``: enqueuing the same key twice returns the first row.
    Call it inside the writer's transaction, so the row commits with the data.
    """
    if tab not in SHEET_TABS:
        raise ValueError(f"unknown Sheets tab {tab!r}; known: {', '.join(SHEET_TABS)}")
    key = uuid_lib.UUID(str(uuid))
    existing = SheetRow.objects.filter(uuid=key).first()
    if existing is not None:
        return existing
    row = SheetRow(
        tab=tab,
        uuid=key,
        values=[str(key), *(_cell(value) for value in values)],
        next_attempt_at=now or timezone.now(),
        created_at=now or timezone.now(),
    )
    row.full_clean(validate_unique=False)  # a concurrent enqueue: IntegrityError below
    try:
        # A savepoint, so losing the race to a concurrent enqueue of the same key
        # does not break the caller's transaction.
        with transaction.atomic():
            row.save()
    except IntegrityError:
        return SheetRow.objects.get(uuid=key)
    return row


def _audit_actor(event: AuditEvent) -> str:
    actor = getattr(event, "actor", None)
    if actor is None:
        return "system"
    return actor.get_username()


def _audit_subject(event: AuditEvent) -> str:
    subject_type = getattr(event, "subject_type", None)
    subject_id = getattr(event, "subject_id", None)
    if subject_type is not None and subject_id not in (None, ""):
        label = getattr(subject_type, "model", None) or str(subject_type)
        return f"{label}:{subject_id}"
    return str(getattr(event, "subject_repr", "") or "")


def _audit_values(event: AuditEvent) -> list[Any]:
    return [
        event.created_at.isoformat(),
        event.action,
        _audit_actor(event),
        _audit_subject(event),
        json.dumps(event.data or {}, sort_keys=True, ensure_ascii=False, default=str),
    ]


def sheet_row_enqueue_audit(*, event: AuditEvent) -> SheetRow:
    """Queue the ``decision_log`` row for one ``AuditEvent`` (keyed by its uuid)."""
    return sheet_row_enqueue(tab=DECISION_LOG, uuid=event.uuid, values=_audit_values(event))


def sheet_rows_enqueue_audit(*, events: Sequence[AuditEvent]) -> list[SheetRow]:
    """Queue the ``decision_log`` rows of events inserted just now, in one insert.

    The events are new (their uuids were drawn when they were built), so no row can
    exist for them yet and nothing is read first; the unique uuid still guards the
    table, and a violation fails the caller's transaction instead of being hidden.
    """
    now = timezone.now()
    rows = [
        SheetRow(
            tab=DECISION_LOG,
            uuid=event.uuid,
            values=[str(event.uuid), *(_cell(value) for value in _audit_values(event))],
            next_attempt_at=now,
            created_at=now,
        )
        for event in events
    ]
    # Written out: bulk_create's machinery cost more than the insert it runs.
    return rows_insert(SheetRow, rows)


def sheet_rows_resubmit(*, row_ids: Iterable[int], now: datetime | None = None) -> int:
    """Put failed rows back in the queue (after the cause was fixed); returns how many."""
    now = now or timezone.now()
    return SheetRow.objects.filter(id__in=list(row_ids), status=SheetRow.Status.FAILED).update(
        status=SheetRow.Status.PENDING, next_attempt_at=now, claim=None, claim_expires_at=None
    )


# --- sync -----------------------------------------------------------------------------


def _rows_claim(*, now: datetime, limit: int) -> tuple[uuid_lib.UUID, list[SheetRow]]:
    """Claim up to ``limit`` due rows for this sync (compare-and-set; race-safe)."""
    token = uuid_lib.uuid4()
    due = SheetRow.objects.filter(status=SheetRow.Status.PENDING, next_attempt_at__lte=now)
    due_ids = list(
        due.filter(SHEET_ROW_LEASE.free(now)).order_by("id").values_list("id", flat=True)[:limit]
    )
    if not due_ids:
        return token, []
    # The claim repeats the conditions: a row another sync claimed meanwhile is no
    # longer free (its lease is live), so it is skipped.
    lease_claim(
        due.filter(id__in=due_ids),
        owner=token,
        now=now,
        duration=CLAIM_LEASE,
        fields=SHEET_ROW_LEASE,
    )
    return token, list(SheetRow.objects.filter(claim=token).order_by("id"))


def _row_backoff(attempts: int, rand: Callable[[], float]) -> timedelta:
    ceiling = min(ROW_BACKOFF_CAP, ROW_BACKOFF_BASE * (2 ** min(attempts - 1, 20)))
    return ceiling / 2 + ceiling * (rand() / 2)


def _rows_mark_sent(*, token: uuid_lib.UUID, ids: list[int], now: datetime) -> None:
    lease_release(
        SheetRow.objects.filter(id__in=ids),
        owner=token,
        fields=SHEET_ROW_LEASE,
        status=SheetRow.Status.SENT,
        sent_at=now,
        last_error="",
        attempts=F("attempts") + 1,
    )


def _rows_mark_retry(
    *,
    token: uuid_lib.UUID,
    rows: list[SheetRow],
    now: datetime,
    error: str,
    rand: Callable[[], float],
) -> None:
    by_attempts: dict[int, list[int]] = defaultdict(list)
    for row in rows:
        by_attempts[row.attempts + 1].append(row.id)
    for attempts, ids in by_attempts.items():
        lease_release(
            SheetRow.objects.filter(id__in=ids),
            owner=token,
            fields=SHEET_ROW_LEASE,
            attempts=attempts,
            next_attempt_at=now + _row_backoff(attempts, rand),
            last_error=error[:ERROR_MAX_CHARS],
        )


def _rows_mark_failed(*, token: uuid_lib.UUID, ids: list[int], error: str) -> None:
    lease_release(
        SheetRow.objects.filter(id__in=ids),
        owner=token,
        fields=SHEET_ROW_LEASE,
        status=SheetRow.Status.FAILED,
        attempts=F("attempts") + 1,
        last_error=error[:ERROR_MAX_CHARS],
    )


def sheets_mirroring_blocked_reason() -> str:
    """Why mirroring is off by configuration, or "" when it is configured."""
    if not settings.SHEETS_CREDENTIALS:
        return "Sheets mirroring is off: BIZAGENT_SHEETS_CREDENTIALS is not set"
    if not settings.SHEETS_SPREADSHEET_ID:
        return "Sheets mirroring is off: BIZAGENT_SHEETS_SPREADSHEET_ID is not set"
    return ""


def _report_totals(report: SyncReport) -> SyncReport:
    report.pending = SheetRow.objects.filter(status=SheetRow.Status.PENDING).count()
    report.failed = SheetRow.objects.filter(status=SheetRow.Status.FAILED).count()
    return report


def sheets_sync(
    *,
    now: datetime | None = None,
    client: MirrorClient | None = None,
    batch_size: int | None = None,
    max_batches: int = 20,
    ensure_tabs: bool = False,
    sleep: Callable[[float], None] = time.sleep,
    rand: Callable[[], float] = random.random,
) -> SyncReport:
    """Mirror due pending rows now: one ``append_rows`` per tab per batch.

    Bounded: at most ``max_batches`` batches, each call bounded by the retry budget.
    Never raises for Google trouble; the report says what happened. Must not run
    inside a transaction (it does network I/O between its small writes).
    """
    now = now or timezone.now()
    batch_size = batch_size or settings.SHEETS_BATCH_SIZE
    report = SyncReport()
    has_due = SheetRow.objects.filter(
        status=SheetRow.Status.PENDING, next_attempt_at__lte=now
    ).exists()
    if client is None:
        blocked = sheets_mirroring_blocked_reason()
        if blocked:
            report.blocked = blocked
            return _report_totals(report)
        if not has_due and not ensure_tabs:
            return _report_totals(report)
        try:
            client = sheets_client_open(
                credentials_path=settings.SHEETS_CREDENTIALS,
                spreadsheet_id=settings.SHEETS_SPREADSHEET_ID,
                policy=sheets_retry_policy(budget=settings.SHEETS_RETRY_BUDGET),
                sleep=sleep,
                rand=rand,
            )
        except SheetsError as exc:
            report.blocked = f"cannot open the spreadsheet: {exc}"
            # Rows stay pending; record why on them so the admin shows it.
            SheetRow.objects.filter(status=SheetRow.Status.PENDING, claim__isnull=True).update(
                last_error=report.blocked[:ERROR_MAX_CHARS]
            )
            logger.warning("sheets: %s", report.blocked)
            return _report_totals(report)
    if not has_due and not ensure_tabs:
        return _report_totals(report)
    try:
        report.tabs_created = client.tabs_ensure({tab: list(h) for tab, h in SHEET_TABS.items()})
    except SheetsError as exc:
        report.error = f"cannot create tabs: {exc}"
        logger.warning("sheets: %s", report.error)
        return _report_totals(report)

    for _ in range(max_batches):
        token, rows = _rows_claim(now=now, limit=batch_size)
        if not rows:
            break
        if not _batch_mirror(
            token=token, rows=rows, client=client, report=report, now=now, rand=rand
        ):
            break
    logger.info("sheets: %s", report.summary())
    return _report_totals(report)


def _batch_mirror(
    *,
    token: uuid_lib.UUID,
    rows: list[SheetRow],
    client: MirrorClient,
    report: SyncReport,
    now: datetime,
    rand: Callable[[], float],
) -> bool:
    """Mirror one claimed batch; False when Google is unavailable and the sync should stop."""
    by_tab: dict[str, list[SheetRow]] = defaultdict(list)
    for row in rows:
        by_tab[row.tab].append(row)
    remaining = list(by_tab)
    for tab in list(remaining):
        tab_rows = by_tab[tab]
        try:
            result = client.rows_append(
                title=tab, header=list(SHEET_TABS[tab]), rows=[row.values for row in tab_rows]
            )
        except SheetsPermanentError as exc:
            report.error = f"{tab}: {exc}"
            report.failed_now += len(tab_rows)
            _rows_mark_failed(token=token, ids=[row.id for row in tab_rows], error=str(exc))
            remaining.remove(tab)
            continue
        except SheetsError as exc:
            # Quota, outage, revoked access: everything still claimed waits for the
            # next sync, with a backoff that grows per row and is capped.
            report.error = f"{tab}: {exc}"
            leftover = [row for name in remaining for row in by_tab[name]]
            report.retrying += len(leftover)
            _rows_mark_retry(token=token, rows=leftover, now=now, error=str(exc), rand=rand)
            logger.warning("sheets: %s; %d rows wait for the next sync", exc, len(leftover))
            return False
        report.mirrored += result.appended
        report.already_present += result.already_present
        _rows_mark_sent(token=token, ids=[row.id for row in tab_rows], now=now)
        remaining.remove(tab)
    return True
