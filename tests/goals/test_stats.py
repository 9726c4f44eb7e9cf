"""Figures for strategy changes and prefix sharing."""

from __future__ import annotations

import random

import pytest

from goals.stats import (
    prompt_bytes_pack,
    prompt_ids_bytes,
    prompt_ids_pack,
    prompt_ids_unpack,
    ratio_change,
    shared_prefix_bytes,
    shared_prefix_length,
)


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


def _equal_leading(first: list[int], second: list[int]) -> int:
    """The definition: how many ids, from the start, are equal."""
    count = 0
    for a, b in zip(first, second, strict=False):
        if a != b:
            break
        count += 1
    return count


def test_shared_prefix_length_is_the_count_of_equal_leading_ids():
    """Against the definition, at every place two prompts can first differ."""
    rng = random.Random(8)
    for _ in range(300):
        prompt = [rng.randrange(200_000) for _ in range(rng.randrange(0, 400))]
        other = list(prompt[: rng.randrange(0, len(prompt) + 1)])
        other += [rng.randrange(200_000) for _ in range(rng.randrange(0, 50))]
        expected = _equal_leading(prompt, other)
        assert shared_prefix_length(prompt, other) == expected
        assert shared_prefix_length(other, prompt) == expected


def test_prompt_ids_pack_round_trips_and_reads_lists_written_before():
    """The loop's state row keeps each role's last prompt ids packed as one string (a
    JSON list of ~3,500 ints cost a parse at every read of the row); what was written
    before, a list, still reads, and nothing reads as no previous prompt."""
    ids = [0, 1, 200_018, 4_000_000_000, 7]
    packed = prompt_ids_pack(ids)
    assert isinstance(packed, str)
    assert prompt_ids_unpack(packed) == ids
    assert prompt_ids_unpack([3, 4]) == [3, 4]
    assert prompt_ids_unpack(None) is None
    assert prompt_ids_unpack("") is None
    assert shared_prefix_length(prompt_ids_unpack(packed), [0, 1, 200_018, 9]) == 3


def test_shared_prefix_bytes_counts_equal_leading_ids_as_the_lists_do():
    """The packed form the loop compares gives the count of equal leading ids, also where
    two ids differ in one byte only (a byte-level count would be off by up to three)."""
    rng = random.Random(9)
    assert shared_prefix_bytes(None, prompt_ids_bytes([1, 2])) == 0
    assert shared_prefix_bytes(b"", prompt_ids_bytes([1, 2])) == 0
    # 258 = 0x0102, 259 = 0x0103: the same first byte, little-endian.
    assert shared_prefix_bytes(prompt_ids_bytes([7, 258]), prompt_ids_bytes([7, 259, 1])) == 1
    for _ in range(300):
        prompt = [rng.randrange(200_000) for _ in range(rng.randrange(0, 400))]
        other = list(prompt[: rng.randrange(0, len(prompt) + 1)])
        other += [rng.choice([rng.randrange(200_000), 70_000]) for _ in range(rng.randrange(50))]
        expected = _equal_leading(prompt, other)
        packed, packed_other = prompt_ids_bytes(prompt), prompt_ids_bytes(other)
        assert shared_prefix_bytes(packed, packed_other) == expected
        assert shared_prefix_bytes(packed_other, packed) == expected
        assert prompt_ids_unpack(prompt_bytes_pack(packed)) == prompt
