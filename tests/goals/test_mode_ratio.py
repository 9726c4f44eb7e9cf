"""The loop uses the explore:deepen scheduler with the theme's ratio and the measured scatter.

The ratio itself is a property of the pure ``ideas.mode.mode_choose`` (tested over 200
iterations in tests/ideas/test_mode.py and below); here a short run of the real loop
shows the wiring: every recorded iteration's mode is the one ``mode_choose`` gives for
its number, the configured ratio and the portfolio's scatter. ``scatter_measure`` is
pinned. The 200-iteration runs of the loop live in ``benchmarks/mode_ratio.py``.
"""

from __future__ import annotations

import pytest

from goals.models import Iteration
from goals.services import iteration_run
from ideas.mode import explore_ratio_effective, mode_choose
from tests.goals.studio import StudioClient

pytestmark = pytest.mark.django_db

WIRING_RUN = 16


def _run(theme, monkeypatch, *, ratio: float, scatter: float, iterations: int) -> list[tuple]:
    monkeypatch.setattr("goals.services.work.scatter_measure", lambda theme: scatter)
    config = dict(theme.config)
    config["iteration_policy"] = {
        **config["iteration_policy"],
        "explore_ratio": ratio,
        "snapshot_every": 1000,
        "meta_review_every": 1000,
    }
    theme.config = config
    theme.save()
    client = StudioClient()
    for _ in range(iterations):
        assert iteration_run(worker="w", scheduled=False, client=client).ran
    assert not Iteration.objects.filter(task_kind="shake_up").exists()
    return list(Iteration.objects.order_by("number").values_list("number", "mode"))


def _expected(number: int, *, ratio: float, scatter: float) -> str:
    return mode_choose(iteration_number=number, explore_ratio=ratio, stalled=False, scatter=scatter)


@pytest.mark.parametrize("ratio", [0.35])
def test_the_explore_ratio_holds_over_200_iterations(ratio):
    modes = [_expected(n, ratio=ratio, scatter=0.4) for n in range(1, 201)]
    assert abs(modes.count("explore") - 200 * ratio) <= 1


def test_a_scattered_portfolio_explores_less():
    modes = [_expected(n, ratio=0.6, scatter=1.0) for n in range(1, 201)]
    expected = 200 * explore_ratio_effective(explore_ratio=0.6, stalled=False, scatter=1.0)
    assert abs(modes.count("explore") - expected) <= 1
    assert modes.count("explore") < 200 * 0.6 - 1


@pytest.mark.parametrize(("ratio", "scatter"), [(0.35, 0.4), (0.6, 1.0)])
def test_each_iteration_of_the_loop_runs_in_the_scheduled_mode(theme, monkeypatch, ratio, scatter):
    recorded = _run(theme, monkeypatch, ratio=ratio, scatter=scatter, iterations=WIRING_RUN)
    assert [number for number, _ in recorded] == list(range(1, WIRING_RUN + 1))
    assert recorded == [(n, _expected(n, ratio=ratio, scatter=scatter)) for n, _ in recorded]
    # Both modes occur in the run, so a loop stuck in one mode cannot pass.
    assert {mode for _, mode in recorded} == {"explore", "deepen"}
