"""The explore/deepen scheduler holds its ratio and bends it when stalled or scattered.

Tolerance: the scheduler is a Beatty sequence, so over N iterations the number of
explorations is floor(N·r) or within one of N·r. Over 200 iterations that is ±1
iteration (±0.5 percentage points), which is what the test allows — there is no
randomness to leave room for.
"""

from __future__ import annotations

import pytest

from ideas.mode import DEEPEN, EXPLORE, explore_ratio_effective, mode_choose


def _explorations(*, ratio: float, n: int = 200, start: int = 0, **kw) -> int:
    kw.setdefault("stalled", False)
    kw.setdefault("scatter", 0.3)
    return sum(
        mode_choose(iteration_number=i, explore_ratio=ratio, **kw) == EXPLORE
        for i in range(start, start + n)
    )


@pytest.mark.parametrize("ratio", [0.0, 0.1, 0.25, 0.3, 0.5, 0.6, 0.75, 0.9, 1.0])
def test_it_holds_the_ratio_over_200_iterations(ratio):
    assert abs(_explorations(ratio=ratio) - 200 * ratio) <= 1


@pytest.mark.parametrize("start", [1, 17, 1000])
def test_it_holds_the_ratio_from_any_starting_iteration(start):
    assert abs(_explorations(ratio=0.6, start=start) - 120) <= 1


def test_it_is_deterministic():
    first = [
        mode_choose(iteration_number=i, explore_ratio=0.4, stalled=False, scatter=0.2)
        for i in range(50)
    ]
    second = [
        mode_choose(iteration_number=i, explore_ratio=0.4, stalled=False, scatter=0.2)
        for i in range(50)
    ]
    assert first == second


def test_it_spreads_explorations_evenly():
    modes = [
        mode_choose(iteration_number=i, explore_ratio=0.5, stalled=False, scatter=0.0)
        for i in range(10)
    ]
    assert modes == [DEEPEN, EXPLORE] * 5


def test_it_explores_more_while_stalled():
    assert explore_ratio_effective(explore_ratio=0.4, stalled=True, scatter=0.0) == pytest.approx(
        0.76
    )
    assert _explorations(ratio=0.4, stalled=True) >= 151
    assert _explorations(ratio=0.4, stalled=True) > _explorations(ratio=0.4)


def test_it_deepens_more_when_the_portfolio_scatters():
    assert explore_ratio_effective(explore_ratio=0.6, stalled=False, scatter=0.7) == 0.6
    assert explore_ratio_effective(explore_ratio=0.6, stalled=False, scatter=1.0) == pytest.approx(
        0.3
    )
    assert _explorations(ratio=0.6, scatter=1.0) <= 61
    assert _explorations(ratio=0.6, scatter=0.85) < _explorations(ratio=0.6, scatter=0.3)


def test_being_stalled_wins_over_scatter():
    assert explore_ratio_effective(explore_ratio=0.5, stalled=True, scatter=1.0) > 0.5


@pytest.mark.parametrize(("number", "ratio"), [(-1, 0.5), (0, 1.5), (0, -0.1)])
def test_it_rejects_nonsense(number, ratio):
    with pytest.raises(ValueError):
        mode_choose(iteration_number=number, explore_ratio=ratio, stalled=False, scatter=0.0)
