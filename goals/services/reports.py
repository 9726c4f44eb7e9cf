"""Goal reports: daily, weekly and final, by email (text + HTML), on Telegram (a short
message, for those whose preference says so) and as Sheets rows.

* ``goal_report_make`` writes one ``GoalReport`` (unique per goal, kind and period end;
  a final report once per goal whatever its period) with its ``figures`` computed from
  the snapshots, the goal's runs, its decisions and revisions, and the forecast
  (``goals.forecast``). In the same transaction it queues the Sheets rows through the
  outbox (``goals_tracker`` for the report, ``performance_metrics`` for each snapshot
  day not yet mirrored) with deterministic uuids, so a retry never doubles a row, and
  writes its audit row. Nothing is sent inside the transaction.
* ``goal_report_send`` mails a report after it committed. The claim is a compare-and-set
  on ``emailed_at`` (set before the SMTP exchange): of two senders one wins, and a report
  marked is never sent again. A refused or failed send gives the claim back, so the next
  tick retries it, sending only the languages whose mail did not go out
  (``languages_emailed``: one message per language). **A crash between the SMTP server
  accepting the message and the mark** leaves ``emailed_at`` set with ``recipients`` 0:
  the report is then treated as sent (at most once), because a duplicate report is noise
  while a lost one is visible (the admin shows the report with no recipients, the log
  says so) and the next report carries the cumulative figures anyway.
* ``goals_report_due`` is the tick: yesterday's daily report for each active goal, a
  weekly report on every 7th day of a goal (days 1–7, 8–14, … of its own period, so a
  one-week goal's week is its whole period, not two partial calendar weeks split at a
  Monday), a final report for each achieved or missed goal without one, then the mails
  still owed. Bounded per tick.

No model analysis goes into a report and nothing secret: figures, the goal's own text
(escaped in HTML) and counts.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid as uuid_lib
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from bizagent.notify import email_send, message_language
from bizagent.telegram import telegram_enabled
from decisions.mirror import GOALS_TRACKER, PERFORMANCE_METRICS, sheet_row_enqueue
from decisions.models import AuditEvent, Decision, NotificationPreference, SheetRow
from decisions.selectors import decision_mail_recipients
from decisions.services.audit import audit_log
from decisions.services.notify_prefs import notify_recipients
from decisions.services.telegram import telegram_notice_send
from goals.forecast import Trend
from goals.models import Goal, GoalReport, GoalRun, PlanRevision
from goals.planning import money_major
from goals.selectors_goal_page import goal_decisions_filter
from goals.selectors_progress import goal_forecast, goal_measure, goal_readings_sourced
from goals.vocabulary import COUNT_METRICS, currency_exponent

logger = logging.getLogger(__name__)

__all__ = [
    "REPORT_TEMPLATE",
    "ReportTick",
    "amount_text",
    "goal_report_make",
    "goal_report_send",
    "goal_report_telegram",
    "goals_report_due",
    "report_headline",
    "report_recipients",
    "report_telegram_text",
]

REPORT_TEMPLATE = "goals/mail/report"
#: Reports made per tick, and mails tried per tick: a tick stays short with many goals.
REPORTS_PER_TICK = 50
MAILS_PER_TICK = 50
#: A report not mailed within this long (nobody to mail, SMTP down for days) is given
#: up: the next reports carry the cumulative figures.
SEND_RETRY_WINDOW = dt.timedelta(days=3)
#: A weekly report every this many days of a goal's own period.
WEEK_DAYS = 7
#: The namespace of the Sheets rows' uuids (uuid5), fixed so a retry finds its row.
SHEETS_NAMESPACE = uuid_lib.UUID("5f0c1d7e-3b8a-4e36-9a51-2c7d0e6b4a10")

GOAL_REPORT_EVENT = NotificationPreference.Event.GOAL_REPORT

SYMBOLS = {"JPY": "¥", "USD": "$", "EUR": "€", "GBP": "£"}
TREND_WORDS: dict[str, str] = {
    Trend.AHEAD: gettext_noop("ahead of plan"),
    Trend.ON_TRACK: gettext_noop("on track"),
    Trend.BEHIND: gettext_noop("behind plan"),
    Trend.NOT_ENOUGH_DATA: gettext_noop("not enough data for a trend yet"),
}
CLOSED_WORDS: dict[str, str] = {
    Goal.Status.ACHIEVED: gettext_noop("goal achieved"),
    Goal.Status.MISSED: gettext_noop("goal missed"),
    Goal.Status.CANCELLED: gettext_noop("goal cancelled"),
}
# Words as msgids (gettext_noop): translated where read, in the reader's language.
SUBJECTS: dict[str, str] = {
    GoalReport.Kind.DAILY: gettext_noop("Goal #{id} daily report {end}: {headline}"),
    GoalReport.Kind.WEEKLY: gettext_noop("Goal #{id} weekly report to {end}: {headline}"),
    GoalReport.Kind.FINAL: gettext_noop("Goal #{id} {status}: {headline}"),
}


# --- words and amounts -----------------------------------------------------------------


def amount_text(amount: int, *, currency: str, metric: str, compact: bool = False) -> str:
    """An amount in a goal's unit as a person reads it.

    Money in its currency's major unit with its symbol (JPY has no decimals:
    "¥1,234,567"; "$1,234.50"); ``compact`` rounds large money to "¥2.1M" / "¥850K" for a
    headline. Counts read "1,234 people".
    """
    if metric in COUNT_METRICS:
        return _("%(count)s people") % {"count": f"{amount:,}"}
    symbol = SYMBOLS.get(currency, f"{currency} ")
    major = Decimal(money_major(amount, currency))
    if compact and abs(major) >= 1000:
        for size, suffix in ((Decimal(10**9), "B"), (Decimal(10**6), "M"), (Decimal(1000), "K")):
            if abs(major) >= size:
                short = (major / size).quantize(Decimal("0.1"), ROUND_HALF_UP).normalize()
                return f"{symbol}{short:f}{suffix}"
    exponent = currency_exponent(currency)
    return f"{symbol}{major:,.{exponent}f}"


def _day_text(day: dt.date) -> str:
    return f"{day.month}/{day.day}"


def trend_text(trend: str) -> str:
    """A forecast's trend in words, in the active language."""
    return _(TREND_WORDS[trend]) if trend in TREND_WORDS else trend


def report_headline(figures: dict[str, Any]) -> str:
    """One line in business words:
    "¥1,234,567 of ¥2,000,000 (62%) — on track, forecast ¥2.1M by 12/5"."""
    cur, metric = figures["currency"], figures["metric"]
    pct = Decimal(figures["progress_pct"]).quantize(Decimal(1), ROUND_HALF_UP)
    text = _("%(achieved)s of %(target)s (%(percent)s%%)") % {
        "achieved": amount_text(figures["achieved"], currency=cur, metric=metric),
        "target": amount_text(figures["target"], currency=cur, metric=metric),
        "percent": pct,
    }
    if figures["status"] in CLOSED_WORDS:
        # A closed goal has an outcome, not a forecast.
        return f"{text} — {_(CLOSED_WORDS[figures['status']])}"
    forecast = figures["forecast"]
    text += f" — {trend_text(forecast['trend'])}"
    if forecast["projected"] is not None:
        projected = amount_text(forecast["projected"], currency=cur, metric=metric, compact=True)
        by = _day_text(dt.date.fromisoformat(figures["deadline"]))
        text += ", " + _("forecast %(projected)s by %(day)s") % {"projected": projected, "day": by}
    return text


# --- figures ---------------------------------------------------------------------------


def _bounds(start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The period's days as aware datetimes in the project's time zone, end exclusive."""
    tz = timezone.get_current_timezone()
    low = dt.datetime.combine(start, dt.time.min, tzinfo=tz)
    return low, dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tzinfo=tz)


def report_figures(*, goal: Goal, period_start: dt.date, period_end: dt.date) -> dict[str, Any]:
    """Everything a report shows, as of the end of ``period_end`` (JSON-ready)."""
    # One source per day by the documented order, as the monitor and the goal page read it.
    forecast, daily = goal_forecast(goal=goal, today=period_end + dt.timedelta(days=1))
    runs = GoalRun.objects.filter(goal=goal, day__gte=period_start, day__lte=period_end)
    run_counts = runs.aggregate(
        started=Count("id", filter=Q(started_at__isnull=False)),
        succeeded=Count("id", filter=Q(status=GoalRun.Status.SUCCEEDED)),
        failed=Count("id", filter=Q(status=GoalRun.Status.FAILED)),
    )
    low, high = _bounds(period_start, period_end)
    decisions = Decision.objects.filter(goal_decisions_filter(goal=goal)).aggregate(
        asked=Count("id", filter=Q(requested_at__gte=low, requested_at__lt=high)),
        answered=Count("id", filter=Q(decided_at__gte=low, decided_at__lt=high)),
    )
    adjustments = [
        {
            "number": revision.number,
            "reason": revision.reason,
            "author": revision.author,
            "approved": revision.approved_at is not None,
        }
        for revision in PlanRevision.objects.filter(
            goal=goal,
            reason__in=(PlanRevision.Reason.ADJUSTMENT, PlanRevision.Reason.REPLAN),
            created_at__gte=low,
            created_at__lt=high,
        ).order_by("number")
    ]
    period_achieved = sum(value for day, value in daily if period_start <= day <= period_end)
    figures: dict[str, Any] = {
        "metric": goal_measure(goal),
        "currency": goal.currency,
        "status": goal.status,
        "target": goal.target_amount,
        "deadline": goal.period_end.isoformat(),
        "achieved": forecast.achieved,
        "period_achieved": period_achieved,
        "progress_pct": str(forecast.progress_pct),
        "run_rate": None if forecast.run_rate is None else str(forecast.run_rate),
        "required_daily": forecast.required_daily,
        "days_elapsed": forecast.days_elapsed,
        "days_remaining": forecast.days_remaining,
        "forecast": {
            "projected": forecast.projected_total,
            "band_low": forecast.band_low,
            "band_high": forecast.band_high,
            "completion_date": (
                None if forecast.completion_date is None else str(forecast.completion_date)
            ),
            "trend": forecast.trend,
        },
        "runs": {key: int(value) for key, value in run_counts.items()},
        "decisions": {key: int(value) for key, value in decisions.items()},
        "adjustments": adjustments,
    }
    figures["headline"] = report_headline(figures)
    return figures


# --- Sheets rows -----------------------------------------------------------------------


def _row_uuid(*parts: object) -> uuid_lib.UUID:
    return uuid_lib.uuid5(SHEETS_NAMESPACE, ":".join(str(part) for part in parts))


def _metric_days(goal: Goal, *, until: dt.date) -> list[tuple[dt.date, int, str]]:
    """(day, value, source) per snapshot day of the goal up to ``until``: the winning
    source's reading (``goals.selectors_progress``), named by that source."""
    return goal_readings_sourced(goal=goal, today=until + dt.timedelta(days=1))


def _value_cell(amount: int, *, goal: Goal) -> str:
    if goal.metric in COUNT_METRICS:
        return str(amount)
    return money_major(amount, goal.currency)


def _sheet_rows_enqueue(*, report: GoalReport, goal: Goal, now: dt.datetime) -> None:
    """The report's ``goals_tracker`` row and a ``performance_metrics`` row per snapshot
    day not mirrored yet; call inside the report's transaction.

    Tracker uuids are per (goal, kind, period end), like the report; metric uuids per
    (goal, metric, day), so a weekly report does not repeat the days its dailies sent.
    """
    figures = report.figures
    forecast = figures["forecast"]["projected"]
    sheet_row_enqueue(
        tab=GOALS_TRACKER,
        uuid=_row_uuid(GOALS_TRACKER, goal.pk, report.kind, report.period_end),
        values=[
            now,
            goal.pk,
            goal.text,
            _value_cell(goal.target_amount, goal=goal),
            "" if goal.metric in COUNT_METRICS else goal.currency,
            goal.period_end.isoformat(),
            _value_cell(figures["achieved"], goal=goal),
            figures["progress_pct"],
            goal.status,
            "" if forecast is None else _value_cell(forecast, goal=goal),
        ],
        now=now,
    )
    measure = goal_measure(goal)
    wanted = {
        _row_uuid(PERFORMANCE_METRICS, goal.pk, measure, day): (day, value, source)
        for day, value, source in _metric_days(goal, until=report.period_end)
    }
    done = set(SheetRow.objects.filter(uuid__in=list(wanted)).values_list("uuid", flat=True))
    unit = "people" if goal.metric in COUNT_METRICS else goal.currency
    for key, (day, value, source) in wanted.items():
        if key in done:
            continue
        sheet_row_enqueue(
            tab=PERFORMANCE_METRICS,
            uuid=key,
            values=[
                now,
                measure,
                _value_cell(value, goal=goal),
                unit,
                day.isoformat(),
                day.isoformat(),
                goal.pk,
                source,
                figures["run_rate"] or "",
            ],
            now=now,
        )


# --- making a report -------------------------------------------------------------------


def _period_start(*, goal: Goal, kind: str, period_end: dt.date) -> dt.date:
    if kind == GoalReport.Kind.DAILY:
        start = period_end
    elif kind == GoalReport.Kind.WEEKLY:
        start = period_end - dt.timedelta(days=WEEK_DAYS - 1)
    else:
        start = goal.period_start
    return max(start, goal.period_start)


def goal_report_make(
    *, goal_id: int, kind: str, period_end: dt.date, now: dt.datetime | None = None
) -> GoalReport:
    """Write the goal's ``kind`` report for the period ending ``period_end``, once.

    A second call returns the first report (nothing queued twice, no second mail); a
    goal has one final report whatever its period end. The Sheets rows and the audit row
    commit with the report. Raises ``ValueError`` naming what is wrong for an unknown
    kind or a period end outside the goal's period.
    """
    now = now or timezone.now()
    if kind not in GoalReport.Kind.values:
        raise ValueError(f"unknown report kind {kind!r}; use one of {GoalReport.Kind.values}")
    with transaction.atomic():
        # The goal row's lock serialises the reports of one goal: two ticks racing make
        # one report (the unique constraint would say so too, but a final report is
        # once per goal, which no constraint on period_end expresses).
        goal = Goal.objects.select_for_update().get(pk=goal_id)
        existing = GoalReport.objects.filter(goal=goal, kind=kind)
        if kind != GoalReport.Kind.FINAL:
            existing = existing.filter(period_end=period_end)
        found = existing.order_by("-period_end").first()
        if found is not None:
            return found
        if not goal.period_start <= period_end <= max(goal.period_end, goal.period_start):
            raise ValueError(
                f"period_end {period_end} is outside goal #{goal.pk}'s period "
                f"{goal.period_start}..{goal.period_end}"
            )
        start = _period_start(goal=goal, kind=kind, period_end=period_end)
        report = GoalReport(
            goal=goal,
            kind=kind,
            period_start=start,
            period_end=period_end,
            figures=report_figures(goal=goal, period_start=start, period_end=period_end),
        )
        report.full_clean(validate_unique=False, validate_constraints=False)
        try:
            with transaction.atomic():
                report.save()
        except IntegrityError:
            # Only without the lock's protection (a goal row deleted and remade): the
            # constraint has the last word.
            return GoalReport.objects.get(goal=goal, kind=kind, period_end=period_end)
        _sheet_rows_enqueue(report=report, goal=goal, now=now)
        audit_log(
            action="goals.report_made",
            subject=goal,
            data={
                "report": report.pk,
                "kind": kind,
                "period_start": str(start),
                "period_end": str(period_end),
                "progress_pct": report.figures["progress_pct"],
            },
        )
    return report


# --- sending ---------------------------------------------------------------------------


def _report_people(goal: Goal) -> list[Any]:
    """Who may hear of a goal's reports: the person who asked, and the staff who receive
    decision mails."""
    asker = goal.requested_by
    people = [asker] if asker is not None and asker.is_active else []
    return [*people, *decision_mail_recipients().order_by("pk")]


def report_recipients(*, goal: Goal) -> list[str]:
    """The addresses a goal's report mail goes to: of ``_report_people``, those whose
    preference for goal reports includes email (``notify_recipients``; email by default)."""
    return [address for group in _recipients_by_language(goal).values() for address in group]


def _recipients_by_language(goal: Goal) -> dict[str, list[str]]:
    """``report_recipients`` grouped by the language each reads (``message_language``:
    their Profile, else BIZAGENT_LANGUAGE); an address at most once."""
    people = notify_recipients(event=GOAL_REPORT_EVENT, people=_report_people(goal)).email
    groups: dict[str, list[str]] = {}
    seen: set[str] = set()
    for person in people:
        if person.email and person.email not in seen:
            seen.add(person.email)
            groups.setdefault(message_language(person), []).append(person.email)
    return groups


def report_telegram_text(report: GoalReport) -> str:
    """The report as a short Telegram message in business words: the headline, the
    period's figures with amounts formatted, and where the full report is. No model
    analysis exists in a report; nothing secret is in it."""
    context = _mail_context(report)
    goal = report.goal
    words = {"id": goal.pk, "status": context["status"].lower()}
    words["end"] = report.period_end.isoformat()
    if report.kind == GoalReport.Kind.FINAL:
        title = _("Goal #%(id)s final report (%(status)s)") % words
    elif report.kind == GoalReport.Kind.WEEKLY:
        title = _("Goal #%(id)s weekly report to %(end)s") % words
    else:
        title = _("Goal #%(id)s daily report for %(end)s") % words
    lines = [title, goal.text[:200], "", context["headline"], ""]
    lines.append(_("This period: %(amount)s") % {"amount": context["period_achieved"]})
    if report.kind != GoalReport.Kind.FINAL:
        lines.append(
            _("Needed per day from now: %(amount)s") % {"amount": context["required_daily"]}
        )
        lines.append(_("Recent pace per day: %(amount)s") % {"amount": context["run_rate"]})
    lines += ["", _("Full report: %(url)s") % {"url": context["admin_url"]}]
    return "\n".join(lines)


def goal_report_telegram(*, report_id: int) -> int:
    """Queue the report on Telegram for those who chose it for goal reports; how many
    new messages. Deduplicated per report and person (the outbox's key), so every tick
    may call it again for a report whose earlier call a crash cut short."""
    if not telegram_enabled():
        return 0  # the channel is off: not even the text is worth composing
    report = GoalReport.objects.select_related("goal", "goal__requested_by").get(pk=report_id)
    return len(
        telegram_notice_send(
            event=GOAL_REPORT_EVENT,
            people=_report_people(report.goal),
            # Composed for each reader in their own language (message_language).
            text=lambda: report_telegram_text(report),
            key=f"goal_report:{report.pk}",
        )
    )


def _mail_context(report: GoalReport) -> dict[str, Any]:
    goal = report.goal
    figures = report.figures
    cur, metric = figures["currency"], figures["metric"]

    def money(value: int | None) -> str:
        return "" if value is None else amount_text(value, currency=cur, metric=metric)

    forecast = figures["forecast"]
    run_rate = figures["run_rate"]
    return {
        "report": report,
        "goal": goal,
        "kind": report.get_kind_display(),
        # Recomputed, not the stored line: in the language the mail is written in.
        "headline": report_headline(figures),
        "figures": figures,
        "target": money(figures["target"]),
        "achieved": money(figures["achieved"]),
        "period_achieved": money(figures["period_achieved"]),
        "required_daily": money(figures["required_daily"]),
        "run_rate": (
            money(int(Decimal(run_rate).quantize(Decimal(1), ROUND_HALF_UP)))
            if run_rate is not None
            else _("not enough data")
        ),
        "projected": money(forecast["projected"]),
        "band_low": money(forecast["band_low"]),
        "band_high": money(forecast["band_high"]),
        "trend": trend_text(forecast["trend"]),
        "status": goal.get_status_display(),
        "admin_url": settings.SITE_URL + reverse("admin:goals_goal_change", args=[goal.pk]),
    }


def goal_report_send(*, report_id: int, now: dt.datetime | None = None) -> int:
    """Mail one report to ``report_recipients``; returns how many addresses it went to.

    Never inside a transaction. Claimed by a compare-and-set on ``emailed_at`` so a
    report goes out at most once (see the module docstring for a crash mid-send); an
    SMTP failure gives the claim back and propagates, the next tick retries. With
    nobody to mail, the report stays unsent (retried while ``SEND_RETRY_WINDOW`` lasts)
    and the audit log says why, once.
    """
    now = now or timezone.now()
    report = GoalReport.objects.select_related("goal", "goal__requested_by").get(pk=report_id)
    if report.emailed_at is not None:
        return 0
    groups = _recipients_by_language(report.goal)
    to = [address for group in groups.values() for address in group]
    if not to:
        _unsent_record(report=report)
        return 0
    if not GoalReport.objects.filter(pk=report.pk, emailed_at__isnull=True).update(emailed_at=now):
        return 0  # another sender claimed it first
    figures = report.figures
    sent = set(report.languages_emailed)
    try:
        # One message per language, to everyone who reads it: the SMTP server accepts each
        # or not as a whole. Each language that went out is recorded under the claim, so
        # when a later one fails and the claim is given back, the retry sends only the
        # languages still owed: nobody gets the report twice.
        for language, addresses in groups.items():
            if language in sent:
                continue
            with translation.override(language):
                subject = _(SUBJECTS[report.kind]).format(
                    id=report.goal_id,
                    end=report.period_end.isoformat(),
                    status=report.goal.get_status_display().lower(),
                    headline=report_headline(figures),
                )
                email_send(
                    to=addresses,
                    subject=subject,
                    template=REPORT_TEMPLATE,
                    context=_mail_context(report),
                )
            sent.add(language)
            GoalReport.objects.filter(pk=report.pk, emailed_at=now).update(
                languages_emailed=sorted(sent)
            )
    except Exception as exc:
        GoalReport.objects.filter(pk=report.pk, emailed_at=now, recipients=0).update(
            emailed_at=None
        )
        logger.warning(
            "goals: report %s of goal %s not sent (%s); the next tick retries",
            report.pk,
            report.goal_id,
            type(exc).__name__,
        )
        raise
    with transaction.atomic():
        GoalReport.objects.filter(pk=report.pk, emailed_at=now).update(recipients=len(to))
        audit_log(
            action="goals.report_emailed",
            subject=report.goal,
            data={"report": report.pk, "kind": report.kind, "recipients": len(to)},
        )
    return len(to)


def _unsent_record(*, report: GoalReport) -> None:
    already = AuditEvent.objects.filter(
        action="goals.report_not_emailed", data__report=report.pk
    ).exists()
    logger.warning("goals: report %s has nobody with an email address to go to", report.pk)
    if already:
        return
    with transaction.atomic():
        audit_log(
            action="goals.report_not_emailed",
            subject=report.goal,
            data={
                "report": report.pk,
                "kind": report.kind,
                "reason": "nobody with an email address: the person who asked has none "
                "and no staff member receives decision mails",
            },
        )


# --- the tick --------------------------------------------------------------------------


@dataclass
class ReportTick:
    """What one ``goals_report_due`` did."""

    made: list[int] = field(default_factory=list)
    emailed: list[int] = field(default_factory=list)
    unsent: list[int] = field(default_factory=list)
    #: Telegram messages queued (goal reports for those who chose Telegram).
    telegram: int = 0
    errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"reports made {len(self.made)}, emailed {len(self.emailed)}, "
            f"not emailed {len(self.unsent)}, on Telegram {self.telegram}, "
            f"errors {len(self.errors)}"
        )


def _due(*, today: dt.date) -> Iterable[tuple[int, str, dt.date]]:
    """(goal id, kind, period end) of the reports due, oldest goals first."""
    yesterday = today - dt.timedelta(days=1)
    active = Goal.objects.filter(
        status=Goal.Status.ACTIVE, period_start__lte=yesterday, period_end__gte=yesterday
    )
    daily_done = GoalReport.objects.filter(kind=GoalReport.Kind.DAILY, period_end=yesterday)
    for goal_id in (
        active.exclude(pk__in=daily_done.values("goal_id"))
        .order_by("pk")
        .values_list("pk", flat=True)
    ):
        yield goal_id, GoalReport.Kind.DAILY, yesterday
    weekly_done = GoalReport.objects.filter(kind=GoalReport.Kind.WEEKLY, period_end=yesterday)
    for goal_id, start in (
        active.exclude(pk__in=weekly_done.values("goal_id"))
        .order_by("pk")
        .values_list("pk", "period_start")
    ):
        if ((yesterday - start).days + 1) % WEEK_DAYS == 0:
            yield goal_id, GoalReport.Kind.WEEKLY, yesterday
    final_done = GoalReport.objects.filter(kind=GoalReport.Kind.FINAL)
    for goal_id, start, end in (
        Goal.objects.filter(status__in=(Goal.Status.ACHIEVED, Goal.Status.MISSED))
        .exclude(pk__in=final_done.values("goal_id"))
        .order_by("pk")
        .values_list("pk", "period_start", "period_end")
    ):
        # Up to the last whole day: the deadline, or yesterday for a goal reached early.
        yield goal_id, GoalReport.Kind.FINAL, max(start, min(end, yesterday))


def goals_report_due(
    *, now: dt.datetime | None = None, limit: int = REPORTS_PER_TICK
) -> ReportTick:
    """One bounded tick: make the reports due, then mail those still owed.

    Idempotent: a second tick the same day makes and sends nothing. A report whose mail
    failed is sent by a later tick while ``SEND_RETRY_WINDOW`` lasts.
    """
    now = now or timezone.now()
    today = timezone.localdate(now)
    tick = ReportTick()
    for goal_id, kind, period_end in _due(today=today):
        if len(tick.made) >= limit:
            break
        try:
            report = goal_report_make(goal_id=goal_id, kind=kind, period_end=period_end, now=now)
        except Exception as exc:  # one goal's trouble does not stop the others
            logger.exception("goals: %s report of goal %s failed", kind, goal_id)
            tick.errors.append(f"goal {goal_id} {kind}: {type(exc).__name__}")
            continue
        tick.made.append(report.pk)
    owed = (
        GoalReport.objects.filter(emailed_at__isnull=True, created_at__gte=now - SEND_RETRY_WINDOW)
        .order_by("created_at")
        .values_list("pk", flat=True)[:MAILS_PER_TICK]
    )
    # Telegram: every report still within the retry window, so a crash between making
    # and queueing is caught up; the outbox's dedupe key queues each person once.
    recent = (
        GoalReport.objects.filter(created_at__gte=now - SEND_RETRY_WINDOW)
        .order_by("-created_at")
        .values_list("pk", flat=True)[:MAILS_PER_TICK]
    )
    for report_id in list(recent):
        try:
            tick.telegram += goal_report_telegram(report_id=report_id)
        except Exception as exc:
            logger.exception("goals: report %s on Telegram failed", report_id)
            tick.errors.append(f"report {report_id} telegram: {type(exc).__name__}")
    for report_id in list(owed):
        try:
            sent = goal_report_send(report_id=report_id, now=now)
        except Exception as exc:
            tick.errors.append(f"report {report_id} mail: {type(exc).__name__}")
            continue
        (tick.emailed if sent else tick.unsent).append(report_id)
    return tick
