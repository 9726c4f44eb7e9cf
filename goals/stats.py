"""Small pure figures the loop needs beyond the portfolio's own (``ideas.stats``)."""

from __future__ import annotations

from collections.abc import Sequence


def ratio_change(current: float, proposed: float) -> float:
    """Relative change of the explore ratio (0.5 → 0.6 is 0.2, a 20% change)."""
    if current <= 0:
        return 1.0 if proposed > 0 else 0.0
    return abs(proposed - current) / current


def shared_prefix_length(previous: Sequence[int] | None, current: Sequence[int]) -> int:
    """How many leading token ids two prompts share (what a prefix cache can reuse)."""
    if not previous:
        return 0
    length = 0
    for a, b in zip(previous, current, strict=False):
        if a != b:
            break
        length += 1
    return length
