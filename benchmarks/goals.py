"""Goals: what understanding, planning, monitoring and executing cost per goal.

    python benchmarks/goals.py [--goals 1000] [--days 30]

A throwaway SQLite database (``harness``); prints figures, asserts nothing.

* **parse**: ``goal_parse`` over the parser's phrasing table (tests/goals/test_parsing.py:
  amounts and periods, growth, questions), mean and p95 per goal.
* **plan**: ``plan_prepare`` without the model (figures read from snapshots, the
  catalogue from its rows, the arithmetic), per goal.
* **monitor**: one monitor tick (``goals_monitor_due``) over ``--goals`` active goals, each
  on an approved plan, with ``--days`` days of revenue snapshots: ms and queries per goal.
  The tick looks at ``MONITOR_BATCH`` goals; the figures are per goal it looked at.
* **executor**: one executor tick (``goals_execute_due``) over the same goals, the shipped
  trial-onboarding workflow published (run inputs pointing at loopback; nothing executes:
  the runs wait in the engine's queue): ms and queries per goal started. A tick starts at
  most ``GOALS_PER_TICK`` goals, so the whole set takes several ticks (printed).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import statistics
import time

import harness  # first: sets Django up on a throwaway SQLite database
from django.contrib.auth.models import User
from django.utils import timezone

from decisions.services import decision_apply, decision_approve
from goals.models import CatalogueItem, Goal, MetricSnapshot, PlanRevision
from goals.parsing import GoalParseError, goal_parse
from goals.services.catalogue import catalogue_workflows_install
from goals.services.executor import GOALS_PER_TICK, goals_execute_due
from goals.services.monitor import MONITOR_BATCH, goals_monitor_due
from goals.services.plans import plan_prepare
from tests.goals import test_parsing as table
from workflows.models import Workflow
from workflows.selectors import publish_decision_pending
from workflows.services.definitions import workflow_publish

START = dt.date(2026, 3, 1)


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) >= 2 else values[0]


def bench_parse(repeat: int = 20) -> None:
    texts = [row[0] for row in table.AMOUNT_AND_PERIOD + table.GROWTH + table.QUESTIONS]
    per_goal: list[float] = []
    for text in texts:
        timings = []
        for _ in range(repeat):
            started = time.perf_counter()
            with contextlib.suppress(GoalParseError):
                goal_parse(text, today=table.TODAY, default_currency="JPY")
            timings.append((time.perf_counter() - started) * 1000)
        per_goal.append(statistics.median(timings))
    print(
        f"parse: {len(texts)} phrasings, mean {statistics.mean(per_goal):.3f} ms, "
        f"p95 {_p95(per_goal):.3f} ms per goal"
    )


def bench_plan(today: dt.date, count: int = 50) -> None:
    timings = []
    for n in range(count):
        started = time.perf_counter()
        plan_prepare(
            text="2週間で50万作りたい",
            metric="revenue",
            target=500_000 + n,
            currency="JPY",
            start=today,
            end=today + dt.timedelta(days=13),
            today=today,
            use_model=False,
        )
        timings.append((time.perf_counter() - started) * 1000)
    print(
        f"plan: {count} goals, mean {statistics.mean(timings):.2f} ms, "
        f"p95 {_p95(timings):.2f} ms per goal (no model call)"
    )


def setup(goals: int, days: int) -> User:
    admin = User.objects.create_superuser("bench", "bench@example.com", "pw-bench-123")
    MetricSnapshot.objects.bulk_create(
        [
            MetricSnapshot(
                source="manual",
                metric=metric,
                date=START + dt.timedelta(days=n),
                value=value,
                currency="JPY" if metric == "revenue" else "",
            )
            for n in range(days)
            for metric, value in (("revenue", 34_000 + (n % 5) * 500), ("customers", 100 + n))
        ]
    )
    today = START + dt.timedelta(days=days)
    document = plan_prepare(
        text="bench",
        metric="revenue",
        target=2_000_000,
        currency="JPY",
        start=START,
        end=START + dt.timedelta(days=days + 13),
        today=today,
        use_model=False,
    ).document
    created = Goal.objects.bulk_create(
        [
            Goal(
                text=f"bench goal {n}",
                metric="revenue",
                target_amount=2_000_000 + n,
                currency="JPY",
                period_start=START,
                period_end=START + dt.timedelta(days=days + 13),
                status=Goal.Status.ACTIVE,
            )
            for n in range(goals)
        ]
    )
    now = timezone.now()
    PlanRevision.objects.bulk_create(
        [PlanRevision(goal=g, number=1, document=document, approved_at=now) for g in created]
    )
    return admin


def publish_catalogue(admin: User) -> None:
    catalogue_workflows_install(actor=admin)
    for workflow in Workflow.objects.filter(status=Workflow.Status.DRAFT):
        workflow = workflow_publish(workflow_id=workflow.pk, actor=admin)
        pending = publish_decision_pending(workflow=workflow)
        if pending is not None:
            decision_approve(decision_id=pending.pk, user=admin)
            decision_apply(decision_id=pending.pk)
    CatalogueItem.objects.filter(key="trial_onboarding").update(
        run_inputs={
            "trials_url": "http://127.0.0.1:9/trials",
            "email_api_url": "http://127.0.0.1:9/mail",
            "language": "ja",
            "product": "bench",
        }
    )


def at(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(9, 0), tzinfo=dt.UTC)


def bench_monitor(goals: int, days: int) -> None:
    import time_machine

    today = START + dt.timedelta(days=days)
    with time_machine.travel(at(today), tick=False), harness.queries_counted() as seen:
        started = time.perf_counter()
        reports = goals_monitor_due()
        elapsed = (time.perf_counter() - started) * 1000
    looked = max(1, len(reports))
    outcomes: dict[str, int] = {}
    for report in reports:
        key = report.outcome + (f"/{report.adjustment.outcome}" if report.adjustment else "")
        outcomes[key] = outcomes.get(key, 0) + 1
    print(
        f"monitor: {goals} active goals, {days} days of snapshots; one tick looked at "
        f"{len(reports)} (MONITOR_BATCH {MONITOR_BATCH}): {elapsed / looked:.2f} ms and "
        f"{len(seen) / looked:.1f} queries per goal ({elapsed:.0f} ms, {len(seen)} queries); "
        f"outcomes {outcomes}"
    )
    with time_machine.travel(at(today) + dt.timedelta(hours=1), tick=False):
        again = goals_monitor_due()
    fresh = sum(1 for r in again if r.outcome != "already")
    print(
        f"monitor, the next tick the same day: looked at {len(again)}, {fresh} not yet "
        f"monitored today; {goals - len(reports) - fresh} of {goals} goals still unmonitored"
    )


def bench_executor(goals: int, days: int) -> None:
    import time_machine

    today = START + dt.timedelta(days=days + 1)
    with time_machine.travel(at(today), tick=False), harness.queries_counted() as seen:
        started = time.perf_counter()
        report = goals_execute_due()
        elapsed = (time.perf_counter() - started) * 1000
    count = max(1, len(report.started) + len(report.failed) + len(report.skipped))
    print(
        f"executor: {goals} active goals; one tick handled {count} (GOALS_PER_TICK "
        f"{GOALS_PER_TICK}): {elapsed / count:.2f} ms and {len(seen) / count:.1f} queries "
        f"per goal ({report.summary()}); {-(-goals // GOALS_PER_TICK)} ticks cover them all"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--goals", type=int, default=1000)
    parser.add_argument("--days", type=int, default=30)
    options = parser.parse_args()
    bench_parse()
    admin = setup(options.goals, options.days)
    bench_plan(START + dt.timedelta(days=options.days))
    publish_catalogue(admin)
    bench_monitor(options.goals, options.days)
    bench_executor(options.goals, options.days)


if __name__ == "__main__":
    main()
