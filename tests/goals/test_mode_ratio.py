"""The explore:deepen ratio over 200 iterations, in-process for speed."""

from __future__ import annotations

import pytest

from goals.models import Iteration
from goals.services import iteration_run
from tests.goals.studio import StudioClient

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("ratio", [0.6, 0.25])
def test_the_explore_ratio_holds_over_200_iterations(theme, ratio):
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
    explore = modes.count("explore")
    assert abs(explore - 200 * ratio) <= 2, explore
