"""Small pure figures the loop needs beyond the portfolio's own (``ideas.stats``)."""

from __future__ import annotations

import base64
import sys
from array import array
from collections.abc import Sequence


def ratio_change(current: float, proposed: float) -> float:
    """Relative change of the explore ratio (0.5 → 0.6 is 0.2, a 20% change)."""
    if current <= 0:
        return 1.0 if proposed > 0 else 0.0
    return abs(proposed - current) / current


def shared_prefix_length(previous: Sequence[int] | None, current: Sequence[int]) -> int:
    """How many leading token ids two prompts share (what a prefix cache can reuse).

    Halving the span where they first differ, each half compared as a whole list (in C):
    a prompt is thousands of ids, and comparing them one by one in Python cost ~0.5 ms.
    """
    if not previous:
        return 0
    length = min(len(previous), len(current))
    first, second = list(previous[:length]), list(current[:length])
    if first == second:
        return length
    # The first ``same`` ids are equal; the first ``differ`` ids are not.
    same, differ = 0, length
    while differ - same > 1:
        middle = (same + differ) // 2
        if first[same:middle] == second[same:middle]:
            same = middle
        else:
            differ = middle
    return same


def prompt_ids_pack(ids: Sequence[int]) -> str:
    """A prompt's token ids as one base64 string of little-endian 32-bit integers.

    The loop's state row keeps each role's last prompt ids (for the shared-prefix
    figure). As JSON lists, ~3,500 ids a role, every read and every write of that row
    (several per iteration) parsed or wrote ~110 kB of JSON: 3.6 ms a parse here. As one
    string a role it is ~80 kB that JSON passes through as it is: 0.15 ms.
    """
    packed = array("I", ids)
    if sys.byteorder == "big":  # pragma: no cover - the same bytes on every machine
        packed.byteswap()
    return base64.b64encode(packed.tobytes()).decode("ascii")


def prompt_ids_unpack(value: object) -> list[int] | None:
    """The ids ``prompt_ids_pack`` packed; a JSON list (written before) as it is."""
    if isinstance(value, list):
        return [int(i) for i in value]
    if not isinstance(value, str) or not value:
        return None
    ids = array("I")
    ids.frombytes(base64.b64decode(value))
    if sys.byteorder == "big":  # pragma: no cover
        ids.byteswap()
    return ids.tolist()
