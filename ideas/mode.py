"""The explore/deepen scheduler. Pure and deterministic.

Instead of a random draw, iteration ``n`` explores when the running count
``floor((n + 1) * r)`` steps up from ``floor(n * r)`` (the Bresenham / Beatty-sequence
trick). Over any ``N`` consecutive iterations at a fixed ratio ``r`` the number of
explore iterations is within one of ``N * r`` — the ratio holds exactly, not just on
average, and a test can check it without seeds or tolerance for luck. Explorations are
also spread evenly rather than bunched.
"""

from __future__ import annotations

import math

from ideas.models import Mode

EXPLORE = Mode.EXPLORE
DEEPEN = Mode.DEEPEN

# While stalled, close this share of the gap between the ratio and 1: at 0.6 a
# configured 0.4 becomes 0.76. Exploring more is the point of a stall; exploring always
# would abandon the ideas worth deepening.
STALLED_BOOST = 0.6
# Above this scatter (0 = one tight cluster, 1 = nothing in common) the portfolio is
# spreading thin, and exploration is cut in proportion to how far past the line it is,
# down to half the configured ratio at scatter 1.
SCATTER_HIGH = 0.7
SCATTER_MAX_CUT = 0.5


def explore_ratio_effective(*, explore_ratio: float, stalled: bool, scatter: float) -> float:
    """The ratio actually used this iteration, after the stalled/scatter adjustments.

    Being stalled wins over scatter: repeating ourselves is the acute failure, and a
    stalled thread is by definition not scattering.
    """
    if not 0.0 <= explore_ratio <= 1.0:
        raise ValueError("explore_ratio must be within [0, 1]")
    if stalled:
        return explore_ratio + (1.0 - explore_ratio) * STALLED_BOOST
    scatter = min(max(scatter, 0.0), 1.0)
    if scatter > SCATTER_HIGH:
        excess = (scatter - SCATTER_HIGH) / (1.0 - SCATTER_HIGH)
        return explore_ratio * (1.0 - SCATTER_MAX_CUT * excess)
    return explore_ratio


def mode_choose(
    *, iteration_number: int, explore_ratio: float, stalled: bool, scatter: float
) -> Mode:
    """``"explore"`` or ``"deepen"`` for iteration ``iteration_number`` (0 or 1 based alike)."""
    if iteration_number < 0:
        raise ValueError("iteration_number must not be negative")
    ratio = explore_ratio_effective(explore_ratio=explore_ratio, stalled=stalled, scatter=scatter)
    # The small epsilon keeps exact ratios like 0.3 from flickering on float error.
    before = math.floor(iteration_number * ratio + 1e-9)
    after = math.floor((iteration_number + 1) * ratio + 1e-9)
    return EXPLORE if after > before else DEEPEN
