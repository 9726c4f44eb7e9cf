"""What a person outside the admin may see of a decision: mails and the link page.

One place maps the ``Decision`` model to a plain dict, so templates never reach into
the model and can never show the model's analysis (chain of thought), which is kept
for audit and the critic only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypedDict

from decisions.models import Decision


class OptionSummary(TypedDict):
    key: str
    label: str
    impact: str
    recommended: bool


class DecisionSummary(TypedDict):
    id: int
    title: str
    summary: str
    kind: str
    options: list[OptionSummary]
    recommendation: str
    due_at: datetime | None
    is_open: bool
    status_label: str
    outcome_label: str
    chosen_option_label: str
    requested_by: str
    decided_by: str
    comment: str


def _username(user: Any) -> str:
    return user.get_username() if user is not None else ""


def decision_summary(decision: Decision) -> DecisionSummary:
    options = [
        OptionSummary(
            key=option.key,
            label=option.label,
            impact=option.impact,
            recommended=bool(option.recommended),
        )
        for option in decision.options.order_by("pk")
    ]
    labels = {option["key"]: option["label"] for option in options}
    status_label = decision.get_status_display()
    return DecisionSummary(
        id=decision.pk,
        title=decision.title,
        summary=decision.situation,
        kind=decision.kind,
        options=options,
        recommendation=labels.get(decision.recommendation, decision.recommendation),
        due_at=decision.due_at,
        is_open=decision.status == Decision.Status.PENDING,
        status_label=status_label,
        outcome_label=status_label.lower(),
        chosen_option_label=labels.get(decision.chosen_option, decision.chosen_option),
        requested_by=_username(decision.requested_by),
        decided_by=_username(decision.decided_by),
        comment=decision.comment,
    )
