"""``iteration_new`` checks in Python only what nothing else checks (choices, lengths, the
required number) instead of ``full_clean``: a bad value is refused with the same field
named, a bad counter by the database's CHECK, and either way nothing is written. Run on
SQLite and on PostgreSQL (``DATABASE_URL=postgres://...``)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from goals.models import Iteration, TokenDay
from goals.services.calls import CallOutcome
from goals.services.record import iteration_new
from goals.work import Work

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def _work(theme, **changes) -> Work:
    values = {"worker": "w", "number": 3, "kind": "critique", "role": "critic", "mode": "explore"}
    return Work(theme=theme, **(values | changes))


def _new(theme, *, work_changes=None, error_class="", **call_values) -> Iteration:
    call = CallOutcome(prompt_tokens=100, completion_tokens=20, **call_values)
    return iteration_new(
        work=_work(theme, **(work_changes or {})),
        call=call,
        outcome="ok",
        started_at=timezone.now(),
        prefix=0,
        error_class=error_class,
    )


def test_a_good_iteration_is_stored_and_passes_full_clean(theme):
    iteration = _new(theme)

    stored = Iteration.objects.get(pk=iteration.pk)
    stored.full_clean()
    assert (stored.role, stored.mode, stored.number, stored.total_tokens) == (
        "critic",
        "explore",
        3,
        120,
    )


BAD = [
    ({"role": "nobody"}, "", ["role"]),
    ({"mode": "sideways"}, "", ["mode"]),
    ({"kind": "k" * 17}, "", ["task_kind"]),
    ({"worker": "w" * 121}, "", ["worker"]),
    ({}, "E" * 41, ["error_class"]),
    ({"role": "", "mode": ""}, "", ["mode", "role"]),
]


@pytest.mark.parametrize(("work_changes", "error_class", "fields"), BAD)
def test_a_bad_value_is_refused_naming_the_field_as_full_clean_did(
    theme, work_changes, error_class, fields
):
    with pytest.raises(ValidationError) as caught, transaction.atomic():
        _new(theme, work_changes=work_changes, error_class=error_class)

    assert sorted(caught.value.message_dict) == fields
    assert not Iteration.objects.exists()
    assert not TokenDay.objects.exists()


def test_a_negative_counter_is_refused_by_the_database_and_nothing_is_written(theme):
    with pytest.raises(IntegrityError), transaction.atomic():
        _new(theme, model_calls=-1)

    assert not Iteration.objects.exists()
    assert not TokenDay.objects.exists()
