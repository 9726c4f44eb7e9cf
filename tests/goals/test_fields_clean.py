"""``fields_clean``: full_clean's per-field checks, remembering the values that passed."""

from __future__ import annotations

from unittest import mock

import pytest
from django.core.exceptions import ValidationError

from goals.models import Iteration, Task
from goals.services import queue
from goals.services.queue import fields_clean


@pytest.fixture(autouse=True)
def _fresh_memo():
    queue._CLEAN_PASSED.clear()
    yield
    queue._CLEAN_PASSED.clear()


def _kind_field():
    return Task._meta.get_field("kind")


def _cleans_of(field, instance) -> int:
    real = type(field).clean
    with mock.patch.object(type(field), "clean", autospec=True, side_effect=real) as spy:
        fields_clean(instance, [field])
    return sum(1 for call in spy.call_args_list if call.args[0] is field)


def test_a_value_that_passed_is_not_checked_again():
    field = _kind_field()
    kind = field.choices[0][0]
    assert _cleans_of(field, Task(kind=kind)) == 1
    assert _cleans_of(field, Task(kind=kind)) == 0
    # Another value of the same field is still checked.
    other = next(value for value, _ in field.choices if value != kind)
    assert _cleans_of(field, Task(kind=other)) == 1


def test_a_refused_value_is_refused_every_time_with_full_cleans_message():
    field = _kind_field()
    good = field.choices[0][0]
    fields_clean(Task(kind=good), [field])
    for _ in range(2):
        with pytest.raises(ValidationError) as got:
            fields_clean(Task(kind="no-such-kind"), [field])
        with pytest.raises(ValidationError) as expected:
            Task(kind="no-such-kind").clean_fields(
                exclude=[f.name for f in Task._meta.fields if f.name != "kind"]
            )
        assert got.value.message_dict == expected.value.message_dict
    assert (field, str, "no-such-kind") not in queue._CLEAN_PASSED


def test_true_and_one_are_remembered_apart():
    field = Iteration._meta.get_field("number")
    fields_clean(Iteration(number=1), [field])
    assert (field, int, 1) in queue._CLEAN_PASSED
    assert (field, bool, True) not in queue._CLEAN_PASSED


def test_a_value_too_long_for_the_field_is_refused_after_a_short_one_passed():
    field = Iteration._meta.get_field("worker")
    fields_clean(Iteration(worker="w1"), [field])
    with pytest.raises(ValidationError) as got:
        fields_clean(Iteration(worker="w" * (field.max_length + 1)), [field])
    assert list(got.value.message_dict) == ["worker"]


def test_the_memo_stays_bounded():
    field = Iteration._meta.get_field("number")
    for number in range(queue._CLEAN_PASSED_MAX + 10):
        fields_clean(Iteration(number=number), [field])
    assert 0 < len(queue._CLEAN_PASSED) <= queue._CLEAN_PASSED_MAX
