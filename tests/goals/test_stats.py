"""Figures for strategy changes and prefix sharing."""

from __future__ import annotations

import pytest

from goals.stats import ratio_change, shared_prefix_length


@pytest.mark.parametrize(
    ("current", "proposed", "expected"),
    [(0.5, 0.6, 0.2), (0.5, 0.5, 0.0), (0.6, 0.3, 0.5), (0.0, 0.2, 1.0), (0.0, 0.0, 0.0)],
)
def test_ratio_change_is_relative(current, proposed, expected):
    assert ratio_change(current, proposed) == pytest.approx(expected)


def test_shared_prefix_length():
    assert shared_prefix_length(None, [1, 2]) == 0
    assert shared_prefix_length([1, 2, 3], [1, 2, 4, 5]) == 2
    assert shared_prefix_length([1, 2], [1, 2, 3]) == 2
