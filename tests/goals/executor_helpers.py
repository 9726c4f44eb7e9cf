"""What the executor's tests share: an active goal on an approved plan, and small
published workflows made through the definition services (publish through governance).

The workflows are real: an ``llm`` step the fake gpt-oss server answers, then an
``http`` call to a loopback server that declares its cost (the engine adds it to the
run's ``cost``); the failing one calls a route that answers 500.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from goals.models import Goal, PlanRevision
from tests.workflows.factories import workflow_published
from workflows.models import Workflow

#: The day the tests run on (a Tuesday), inside every default goal period.
NOW = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
TODAY = NOW.date()

OUTREACH = "goal-outreach"
#: The shipped catalogue entry ``cold_outreach``: 3 JPY a unit, volume ``sends_per_day``.
CATALOGUE_KEY = "cold_outreach"
UNIT_COST = 3
HTTP_COST = 7


def action(
    *, workflow: str = OUTREACH, catalogue: str = CATALOGUE_KEY, sends: int = 5
) -> dict[str, Any]:
    """One plan action in ``Decomposition.to_json()``'s shape."""
    return {"workflow": workflow, "catalogue": catalogue, "params": {"sends_per_day": sends}}


def goal_active(
    *,
    actions: list[dict[str, Any]] | None = None,
    status: str = Goal.Status.ACTIVE,
    start: dt.date = TODAY - dt.timedelta(days=1),
    end: dt.date = TODAY + dt.timedelta(days=5),
) -> Goal:
    """A goal (by default active) whose revision 1 is approved with ``actions``."""
    goal = Goal.objects.create(
        text="1週間で200万作りたい",
        metric="revenue",
        target_amount=2_000_000,
        currency="JPY",
        period_start=start,
        period_end=end,
        status=status,
    )
    plan_revise(goal=goal, number=1, actions=[action()] if actions is None else actions)
    return goal


def plan_revise(*, goal: Goal, number: int, actions: list[dict[str, Any]]) -> PlanRevision:
    """An approved revision (what the plan engineer's services leave)."""
    return PlanRevision.objects.create(
        goal=goal, number=number, document={"actions": actions}, approved_at=timezone.now()
    )


def outreach_workflow(*, base_url: str, key: str = OUTREACH, fail: bool = False) -> Workflow:
    """A published workflow: the model drafts, an HTTP call "sends" (cost declared).

    ``fail``: the HTTP call gets a 500 (with a token in its URL the error must not keep).
    """
    url = f"{base_url}/status/500?token=s3cr3t-token" if fail else f"{base_url}/json"
    return workflow_published(
        {
            "name": f"Outreach {key}",
            "key": key,
            "description": "Drafts and sends the day's outreach emails.",
            "input_schema": {
                "type": "object",
                "properties": {
                    "sends_per_day": {"type": "integer", "minimum": 1},
                    "goal_id": {"type": "integer"},
                    "day": {"type": "string"},
                },
                "required": ["sends_per_day", "goal_id", "day"],
                "additionalProperties": False,
            },
            "output": {"draft": "{{ steps.draft.output.text }}"},
            "steps": [
                {
                    "name": "draft",
                    "block": "llm",
                    "config": {
                        "instructions": "Write one short outreach email.",
                        "prompt": "Goal {{ input.goal_id }} on {{ input.day }}: "
                        "{{ input.sends_per_day }} emails.",
                    },
                },
                {
                    "name": "send",
                    "block": "http",
                    "config": {"method": "GET", "url": url, "cost": HTTP_COST},
                },
            ],
            "edges": [{"from": "draft", "port": "out", "to": "send"}],
        }
    )
