"""How an idea's priority follows from its scores and the people who reviewed it. Pure.

The planner reads ``Idea.priority`` (stored, indexed) to decide what to deepen next.
A person's correction replaces the model's score outright (that is what ``effective``
means), and a reviewed idea gets a bonus: a human looked at it and kept it, which is
the strongest signal the loop gets that deepening it is worth the tokens.
"""

from __future__ import annotations

from collections.abc import Mapping

WEIGHTS = {"brand_fit": 0.4, "novelty": 0.3, "feasibility": 0.3}
# An unscored idea sits in the middle, so new ideas neither jump the queue nor vanish.
NEUTRAL_SCORE = 5.0
REVIEWED_BONUS = 1.0


def priority_compute(*, effective_scores: Mapping[str, float | None], reviewed: bool) -> float:
    """Weighted mean of the effective scores (0–10), plus the review bonus."""
    base = sum(
        weight * (NEUTRAL_SCORE if (score := effective_scores.get(name)) is None else score)
        for name, weight in WEIGHTS.items()
    )
    return round(base + (REVIEWED_BONUS if reviewed else 0.0), 4)
