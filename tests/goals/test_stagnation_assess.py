"""``stagnation_assess``: the new answer's similarity is its best Jaccard match among the
role's recent answers (``text_similarity``), and the stalled verdict is
``stagnation_check``'s over the same texts."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from django.utils import timezone

from goals.models import Iteration
from goals.selectors import ideator_text
from goals.services.record import stagnation_assess
from ideas.stagnation import stagnation_check, text_similarity

pytestmark = pytest.mark.django_db

DIRECTIONS = [
    "Cheap bento lunch boxes for office workers",
    "Bento lunch boxes for remote workers at home",
    "Weekend ramen tasting tours in Osaka",
    "地元の野菜を使った弁当の定期便",
]


def _answer(direction: str) -> dict[str, Any]:
    return {"direction": direction, "ideas": [{"title": direction[:12], "summary": direction}]}


def _recorded(theme, directions: list[str], *, outcome: str = "ok") -> None:
    now = timezone.now()
    for number, direction in enumerate(directions, start=1):
        Iteration.objects.create(
            theme=theme,
            number=number,
            role="ideator",
            task_kind="generate",
            outcome=outcome,
            parsed=_answer(direction),
            started_at=now,
            finished_at=now,
        )


@pytest.mark.parametrize(
    "new",
    [
        "Bento lunch boxes for office workers, cheaper",
        "Ramen tours",
        "野菜の弁当の定期便",
        "Something else entirely",
    ],
)
def test_the_similarity_is_the_best_match_among_the_recent_answers(theme, new):
    _recorded(theme, DIRECTIONS)
    work = SimpleNamespace(theme=theme, role="ideator")
    verdict = stagnation_assess(work=work, parsed=_answer(new))  # type: ignore[arg-type]
    new_text = ideator_text(_answer(new))
    recent = [ideator_text(_answer(d)) for d in DIRECTIONS]
    assert verdict.similarity == max(text_similarity(new_text, old) for old in recent)
    assert verdict.stalled == stagnation_check(
        recent_texts=recent,
        new_text=new_text,
        threshold=theme.stagnation_threshold,
        window=theme.stagnation_window,
    )


def test_without_recent_answers_there_is_no_similarity(theme):
    _recorded(theme, DIRECTIONS, outcome="failed")  # failed answers are not compared
    work = SimpleNamespace(theme=theme, role="ideator")
    verdict = stagnation_assess(work=work, parsed=_answer("Anything"))  # type: ignore[arg-type]
    assert (verdict.stalled, verdict.similarity) == (False, None)


def test_a_repeated_run_of_answers_is_stalled_with_similarity_one(theme):
    _recorded(theme, [DIRECTIONS[0]] * 6)
    work = SimpleNamespace(theme=theme, role="ideator")
    verdict = stagnation_assess(work=work, parsed=_answer(DIRECTIONS[0]))  # type: ignore[arg-type]
    assert (verdict.stalled, verdict.similarity) == (True, 1.0)
