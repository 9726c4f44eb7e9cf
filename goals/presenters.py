"""How the decisions goals asks for read to a business person.

Registered with ``decisions.presentation`` at start-up (imported from
``GoalsConfig.ready``). Each presenter says what approving changes in money, effort or
time, with the evidence taken from the decision's arguments and the rows they name;
never the model's analysis.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _

from decisions.models import Decision
from decisions.presentation import (
    Framing,
    count_format,
    date_format,
    money_format,
    percent_format,
    presenter_register,
    rows_from,
)
from goals.models import Goal, Iteration, PlanRevision
from goals.services.monitor import ADJUST_ACTION, ANOMALY_ACTION
from goals.services.plans import PLAN_APPROVE_ACTION
from goals.vocabulary import COUNT_METRICS, currency_exponent
from ideas.models import Theme


def goal_amount(goal: Goal, value: Any) -> str:
    """A figure in the goal's metric: money from minor units for revenue, else a count."""
    if goal.metric in COUNT_METRICS:
        return count_format(value)
    major = Decimal(str(value)) / (Decimal(10) ** currency_exponent(goal.currency))
    return money_format(major, goal.currency)


def goal_name(goal: Goal) -> str:
    text = goal.text.strip().splitlines()[0] if goal.text.strip() else f"#{goal.pk}"
    return text if len(text) <= 60 else text[:59] + "…"


@presenter_register("goals.apply_strategy_change")
def strategy_change(decision: Decision) -> Framing:
    args = decision.action_args
    theme = Theme.objects.get(pk=args["theme_id"])
    old = Decimal(str(args.get("from_explore_ratio", theme.explore_ratio)))
    new = Decimal(str(args["explore_ratio"]))
    change = {"old": percent_format(old), "new": percent_format(new)}
    # Whole sentences, not pieces: a translation may order the words otherwise.
    if new < old:
        summary = (
            _(
                "Put more effort into improving the best ideas: "
                "new directions %(old)s → %(new)s of the work"
            )
            % change
        )
    else:
        summary = _("Put more effort into new directions: %(old)s → %(new)s of the work") % change
    iteration = Iteration.objects.filter(pk=args.get("iteration_id")).first()
    return Framing(
        summary=summary,
        evidence=rows_from(
            [
                (_("Project"), theme.name),
                (_("Work on new directions now"), percent_format(old)),
                (_("Work on new directions after"), percent_format(new)),
                (_("Work on improving the best ideas after"), percent_format(1 - new)),
                (_("Focus"), args.get("focus")),
                (_("Proposed at loop step"), iteration.number if iteration else None),
            ]
        ),
    )


@presenter_register("goals.extend_token_budget")
def token_budget(decision: Decision) -> Framing:
    args = decision.action_args
    theme = Theme.objects.get(pk=args["theme_id"])
    return Framing(
        summary=_(
            "Let the idea studio of %(name)s keep working today: %(tokens)s more tokens "
            "(%(share)s of its daily budget)"
        )
        % {
            "name": theme.name,
            "tokens": count_format(args["tokens"]),
            "share": percent_format(
                Decimal(int(args["tokens"])) / max(1, theme.daily_token_budget)
            ),
        },
        evidence=rows_from(
            [
                (_("Project"), theme.name),
                (_("Day"), date_format(args["day"])),
                (_("Daily budget (tokens)"), count_format(theme.daily_token_budget)),
                (_("Extra tokens if approved"), count_format(args["tokens"])),
                (_("Extra requests today"), args.get("round")),
            ]
        ),
    )


@presenter_register(PLAN_APPROVE_ACTION)
def plan_approve(decision: Decision) -> Framing:
    revision = PlanRevision.objects.select_related("goal").get(
        pk=decision.action_args["revision_id"]
    )
    goal, document = revision.goal, revision.document
    workflows = [str(a.get("catalogue") or a.get("workflow")) for a in document.get("actions", [])]
    estimate = document.get("budget_estimate")
    summary = _("Start working on the goal “%(goal)s”: %(count)s workflows run until %(end)s") % {
        "goal": goal_name(goal),
        "count": len(workflows),
        "end": date_format(goal.period_end),
    }
    if estimate not in (None, ""):
        summary += ", " + _("spending up to %(money)s") % {
            "money": money_format(estimate, goal.currency)
        }
    return Framing(
        summary=summary,
        evidence=rows_from(
            [
                (_("Goal"), goal_name(goal)),
                (_("Target"), goal_amount(goal, goal.target_amount)),
                (_("Period"), f"{date_format(goal.period_start)} – {date_format(goal.period_end)}"),
                (
                    _("Budget estimate"),
                    money_format(estimate, goal.currency) if estimate not in (None, "") else None,
                ),
                (_("Daily target"), document.get("daily_target")),
                (_("Days left"), document.get("days_remaining")),
                (_("Workflows"), workflows),
            ]
        ),
    )


@presenter_register(ADJUST_ACTION)
def plan_adjustment(decision: Decision) -> Framing:
    args = decision.action_args
    goal = Goal.objects.get(pk=args["goal_id"])
    revision = PlanRevision.objects.get(goal=goal, number=args["revision"])
    current = (
        PlanRevision.objects.filter(
            goal=goal, number__lt=revision.number, approved_at__isnull=False
        )
        .order_by("-number")
        .first()
    )

    def volumes(document: dict[str, Any]) -> dict[str, int]:
        return {
            str(a.get("catalogue") or a.get("workflow")): int(a.get("per_day") or 0)
            for a in document.get("actions", [])
        }

    old = volumes(current.document) if current else {}
    new = volumes(revision.document)
    rows = [
        (
            _("%(workflow)s per day") % {"workflow": key},
            f"{count_format(old.get(key, 0))} → {count_format(volume)}",
        )
        for key, volume in new.items()
    ]
    before, after = sum(old.values()), sum(new.values())
    values = {"goal": goal_name(goal), "before": count_format(before), "after": count_format(after)}
    if args.get("strategic"):
        summary = (
            _(
                "Change strategy to catch up on the goal “%(goal)s”: "
                "%(before)s → %(after)s actions a day"
            )
            % values
        )
    else:
        summary = (
            _(
                "Work harder to catch up on the goal “%(goal)s”: "
                "%(before)s → %(after)s actions a day"
            )
            % values
        )
    return Framing(
        summary=summary,
        evidence=[
            (_("Goal"), goal_name(goal)),
            (_("Target"), goal_amount(goal, goal.target_amount)),
            (_("Ends"), date_format(goal.period_end)),
            *rows,
        ],
    )


@presenter_register(ANOMALY_ACTION)
def anomaly(decision: Decision) -> Framing:
    args = decision.action_args
    goal = Goal.objects.get(pk=args["goal_id"])
    days, values = list(args.get("days", [])), list(args.get("values", []))
    went = _("dropped") if args.get("direction") == "down" else _("jumped")
    summary = _(
        "%(metric)s of the goal “%(goal)s” %(went)s for %(n)s days in a row "
        "(a usual day: %(usual)s). Decide whether to keep the plan, pause or re-plan"
    ) % {
        "metric": goal.get_metric_display(),
        "goal": goal_name(goal),
        "went": went,
        "n": len(days),
        "usual": goal_amount(goal, args.get("median", 0)),
    }
    return Framing(
        summary=summary,
        evidence=[
            (_("Usual day"), goal_amount(goal, args.get("median", 0))),
            *[(date_format(d), goal_amount(goal, v)) for d, v in zip(days, values, strict=False)],
        ],
    )
