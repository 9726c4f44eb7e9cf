"""The loop's reads of recent iterations written out by hand (``goals.selectors``) give
exactly what their ORM forms gave on the same rows: the planner's recent work (latest
and since an anchor) and the ideator's recent directions. Run on SQLite and on
PostgreSQL (``DATABASE_URL=postgres://...``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from goals.models import PLAN, Iteration, Role
from goals.selectors import RECENT_SINCE_CAP, _direction_line, recent_directions_split, recent_work
from tests.ideas.factories import ThemeFactory

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

WHEN = dt.datetime(2026, 4, 5, 6, 7, 8, tzinfo=dt.UTC)
ROLES = [Role.IDEATOR, Role.CRITIC, Role.PLANNER, Role.EDITOR]
OUTCOMES = list(Iteration.Outcome.values)


def _parsed(i: int) -> Any:
    if i % 7 == 0:
        return None
    if i % 5 == 0:
        return ["not", "a", "dict"]
    return {
        "direction": f"  direction {i} 茶  ",
        "ideas": [{"title": f"T{i}.{j}", "summary": "s"} for j in range(i % 5)],
    }


def _history(theme, n: int = 40) -> None:
    Iteration.objects.bulk_create(
        [
            Iteration(
                theme=theme,
                task_kind="" if i % 4 == 0 else "critique",
                number=i,
                worker="w",
                role=ROLES[i % len(ROLES)],
                mode="explore",
                outcome=OUTCOMES[i % len(OUTCOMES)],
                error_class="timeout" if i % 3 == 0 else "",
                parsed=_parsed(i),
                result={}
                if i % 6 == 0
                else {"ideas_written": list(range(i % 3)), "note": f"ノート {i}", "n": i % 2},
                analysis="a long analysis " * 50,
                started_at=WHEN,
                finished_at=WHEN,
            )
            for i in range(1, n + 1)
        ]
    )


@pytest.fixture
def history(theme):
    _history(theme)
    _history(ThemeFactory(status="draft", activated_at=None), 12)
    return theme


def _orm_recent_work(*, theme, limit: int = 8, since: int | None = None) -> list[str]:
    """The ORM form ``recent_work`` replaced, as it was."""
    if since is None:
        rows = Iteration.objects.filter(theme=theme).order_by("-id")[:limit]
    else:
        rows = Iteration.objects.filter(theme=theme, number__gte=since).order_by("number")[
            :RECENT_SINCE_CAP
        ]
    lines = []
    for it in rows:
        summary = ", ".join(
            f"{key} {len(value) if isinstance(value, list) else value}"
            for key, value in sorted((it.result or {}).items())
            if value
        )
        error = f" [{it.error_class}]" if it.error_class else ""
        lines.append(
            f"#{it.number} {it.task_kind or PLAN}/{it.role}: {summary or it.outcome}{error}"
        )
    return lines


def _orm_directions_split(*, theme, limit: int, since: int) -> tuple[list[str], list[str]]:
    """The ORM form ``recent_directions_split`` replaced, as it was."""
    rows = list(
        Iteration.objects.filter(
            theme=theme,
            role=Role.IDEATOR,
            outcome__in=(Iteration.Outcome.OK, Iteration.Outcome.REPAIRED),
        )
        .order_by("-number")
        .values_list("number", "parsed")[: limit + RECENT_SINCE_CAP]
    )
    after = [parsed for number, parsed in rows if number >= since]
    before = [parsed for number, parsed in rows if number < since][:limit]
    return (
        [_direction_line(parsed) for parsed in reversed(before) if isinstance(parsed, dict)],
        [_direction_line(parsed) for parsed in reversed(after) if isinstance(parsed, dict)],
    )


@pytest.mark.parametrize("limit", [0, 1, 8, 100])
def test_the_latest_work_is_what_the_orm_form_gave(history, limit):
    got = recent_work(theme=history, limit=limit)

    assert got == _orm_recent_work(theme=history, limit=limit)
    assert len(got) == min(limit, 40)


@pytest.mark.parametrize("since", [1, 17, 40, 41])
def test_the_work_since_an_anchor_is_what_the_orm_form_gave(history, since):
    got = recent_work(theme=history, since=since)

    assert got == _orm_recent_work(theme=history, since=since)
    assert len(got) == 41 - since


@pytest.mark.parametrize(("limit", "since"), [(0, 20), (3, 20), (10, 1), (2, 41), (50, 30)])
def test_the_ideators_directions_are_what_the_orm_form_gave(history, limit, since):
    got = recent_directions_split(theme=history, limit=limit, since=since)

    assert got == _orm_directions_split(theme=history, limit=limit, since=since)
    assert any(got)


def test_an_empty_theme_has_no_work_and_no_directions(theme):
    assert recent_work(theme=theme) == []
    assert recent_work(theme=theme, since=1) == []
    assert recent_directions_split(theme=theme, limit=3, since=1) == ([], [])
