"""The explore:deepen ratio over 200 iterations, in-process for speed.

``scatter_measure`` is pinned: with a tight portfolio the configured ratio must hold
exactly (within one iteration); with a scattered one, exploration is cut as
``ideas.mode`` documents. The mode function itself is the ideas app's, tested there.
"""

from __future__ import annotations

import pytest

from goals.models import Iteration
from goals.services import iteration_run
from ideas.mode import explore_ratio_effective
from tests.goals.studio import StudioClient

pytestmark = pytest.mark.django_db


def _run(theme, monkeypatch, *, ratio: float, scatter: float) -> int:
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
    for _ in range(200):
        assert iteration_run(worker="w", scheduled=False, client=client).ran
    modes = list(Iteration.objects.order_by("number").values_list("mode", flat=True))
    assert len(modes) == 200
    assert not Iteration.objects.filter(task_kind="shake_up").exists()
    return modes.count("explore")


@pytest.mark.parametrize("ratio", [0.35])
def test_the_explore_ratio_holds_over_200_iterations(theme, monkeypatch, ratio):
    explore = _run(theme, monkeypatch, ratio=ratio, scatter=0.4)
    assert abs(explore - 200 * ratio) <= 1, explore


def test_a_scattered_portfolio_explores_less(theme, monkeypatch):
    explore = _run(theme, monkeypatch, ratio=0.6, scatter=1.0)
    expected = 200 * explore_ratio_effective(explore_ratio=0.6, stalled=False, scatter=1.0)
    assert abs(explore - expected) <= 1, (explore, expected)
