"""``recent_answers``' written-out read gives what the ORM query it replaced gave: the
role's successful answers on the theme, newest ``limit``, oldest first, JSON decoded."""

from __future__ import annotations

import datetime as dt

import pytest

from goals.models import Iteration
from goals.selectors import recent_answers
from tests.goals.factories import ThemeFactory

pytestmark = pytest.mark.django_db

WHEN = dt.datetime(2026, 4, 5, 6, 7, 8, tzinfo=dt.UTC)


def _iteration(theme, number: int, *, role: str, outcome: str, parsed) -> Iteration:
    return Iteration.objects.create(
        theme=theme,
        task_kind="critique",
        number=number,
        role=role,
        mode="refine",
        outcome=outcome,
        parsed=parsed,
        started_at=WHEN,
        finished_at=WHEN,
    )


def _mixed_iterations(theme, *, role: str, other_role: str, parsed_of, count: int = 12) -> None:
    """``count`` iterations on ``theme``: mostly ``role``'s, every fourth ``other_role``'s,
    the outcomes in turn (ok, repaired, failed), every fifth answer empty (``parsed_of``
    gives the others)."""
    outcomes = [Iteration.Outcome.OK, Iteration.Outcome.REPAIRED, Iteration.Outcome.FAILED]
    for number in range(1, count + 1):
        _iteration(
            theme,
            number,
            role=role if number % 4 else other_role,
            outcome=outcomes[number % 3],
            parsed=None if number % 5 == 0 else parsed_of(number),
        )


def _by_orm(theme, role: str, limit: int) -> list:
    rows = (
        Iteration.objects.filter(
            theme=theme,
            role=role,
            outcome__in=(Iteration.Outcome.OK, Iteration.Outcome.REPAIRED),
        )
        .order_by("-id")
        .values_list("parsed", flat=True)[:limit]
    )
    return [parsed for parsed in reversed(list(rows)) if parsed]


def test_it_reads_what_the_orm_read(theme):
    other = ThemeFactory(status="archived")
    _mixed_iterations(
        theme,
        role="critic",
        other_role="ideator",
        parsed_of=lambda n: {"critiques": [{"text": f"批評 {n}"}]},
    )
    for number in range(1, 13):
        _iteration(other, number, role="critic", outcome=Iteration.Outcome.OK, parsed={"n": 1})
    for limit in (1, 3, 6, 20):
        expected = _by_orm(theme, "critic", limit)
        assert recent_answers(theme=theme, role="critic", limit=limit) == expected
    answers = recent_answers(theme=theme, role="critic", limit=20)
    # 12 is an ideator's, 11 failed, 10 answered nothing: 9 is the newest.
    assert answers[-1] == {"critiques": [{"text": "批評 9"}]}
    assert all(a != {"n": 1} for a in answers)
    assert recent_answers(theme=theme, role="planner", limit=5) == []
