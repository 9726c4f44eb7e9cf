"""A tick that keeps its slot (``iteration_run_in_slot(keep_seconds=...)``) runs one
iteration after another in it, resting the duty cycle's share in between, and still
checks stop before each: the loop's writes per iteration drop (no queue round trip, no
slot claim and release per iteration) without an iteration after a stop.
"""

from __future__ import annotations

import pytest

from goals.models import Iteration, LoopSlot
from goals.services import iteration_run_in_slot, loop_start, loop_stop

pytestmark = pytest.mark.django_db


@pytest.fixture
def resting(theme):
    """Duty cycle 0.5: each iteration earns a rest as long as it worked."""
    config = dict(theme.config)
    config["iteration_policy"] = {**config["iteration_policy"], "duty_cycle": 0.5}
    theme.config = config
    theme.save()
    return theme


@pytest.fixture
def naps(monkeypatch):
    slept: list[float] = []
    monkeypatch.setattr("goals.services.wake.sleep", slept.append)
    return slept


def test_a_kept_slot_runs_iterations_back_to_back_until_the_stop(resting, studio, naps):
    loop_start()
    ran = []

    def on_ran(report):
        ran.append(report.iteration.number)
        if len(ran) == 3:
            loop_stop(reason="enough")

    report = iteration_run_in_slot(
        worker="w-1", scheduled=True, keep_seconds=600, rest_wait_max=60, on_ran=on_ran
    )
    assert report.status == "stopped"
    assert Iteration.objects.count() == 3 == len(ran)
    assert len(naps) == 3  # the duty cycle's rest, slept in the slot after each one
    slot = LoopSlot.objects.get(number=1)
    assert (slot.owner, slot.reserved_tokens) == ("", 0)  # freed at the end


def test_without_keep_one_iteration_and_the_slot_keeps_its_rest(resting, studio, naps):
    loop_start()
    report = iteration_run_in_slot(worker="w-1", scheduled=True)
    assert report.ran
    assert Iteration.objects.count() == 1
    assert naps == []
    slot = LoopSlot.objects.get(number=1)
    assert slot.owner == ""
    assert slot.rest_until is not None  # the next claimer waits it out
