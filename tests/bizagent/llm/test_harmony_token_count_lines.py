"""harmony_token_count_lines: the exact count of joined lines, from remembered counts of
the parts, so a context encodes only what is new in it."""

from __future__ import annotations

import random

import pytest

import bizagent.llm.harmony as harmony
from bizagent.llm.harmony import (
    harmony_token_count,
    harmony_token_count_lines,
    splits_after_newline,
)

PARTS = [
    "## Portfolio (the best ideas; refreshed every few iterations)\n- [#1] Mug — a mug [mug]",
    "- [#2] Tote — 月見だんごと一緒に楽しむ. [tote, new-year]",
    "### [#3] Night mug\nstatus: candidate; scores: brand_fit 7, novelty ?, feasibility 8.5",
    "ends with spaces   ",
    " starts with a space",
    "/starts with a slash",
    "\nstarts with a newline",
    "",
    "123",
    "456 ends with a newline\n",
    "'s a contraction",
    "…",
]


@pytest.mark.parametrize("first", PARTS)
@pytest.mark.parametrize("second", PARTS)
def test_it_counts_every_pair_like_the_joined_text(first, second):
    assert harmony_token_count_lines([first, second]) == harmony_token_count(f"{first}\n{second}")


#: Parts end and start in letters, digits, marks, punctuation, spaces and ``/``, in
#: several scripts: where a part ending in a letter or digit is counted as itself plus
#: one, and where a newline does or does not end a piece.
PIECES = [
    "a", "Z", "mug", "7", "42", "1,500", "¥4,000", "月見", "だんご", "é", "e\u0301", "٣",
    "Ⅻ", "½", ")", "]", "…", ".", "—", " ", "  ", "\t", "/", "#", "- [#", "'s", "?", ":",
    "\n",
]  # fmt: skip


def _parts(rng: random.Random, *, fewest: int, most: int, shortest: int = 0) -> list[str]:
    return [
        "".join(rng.choice(PIECES) for _ in range(rng.randint(shortest, 6)))
        for _ in range(rng.randint(fewest, most))
    ]


def test_it_counts_random_lines_like_the_joined_text():
    rng = random.Random(8)
    for _ in range(400):
        texts = _parts(rng, fewest=1, most=5)
        assert harmony_token_count_lines(texts) == harmony_token_count("\n".join(texts)), texts


def test_closed_lines_and_the_parts_after_them_count_like_the_joined_text():
    """``closed=True`` (a portfolio block's lines, counted once per block) plus the count
    of parts that follow from a part that ``splits_after_newline`` is the tokens of all
    of them joined, as the block and a task's parts are."""
    rng = random.Random(9)
    checked = 0
    for _ in range(400):
        parts, after = _parts(rng, fewest=1, most=5), _parts(rng, fewest=1, most=3, shortest=1)
        if not splits_after_newline(after[0]):
            continue
        checked += 1
        joined = harmony_token_count("\n".join([*parts, *after]))
        counted = harmony_token_count_lines(parts, closed=True) + harmony_token_count_lines(after)
        assert counted == joined, (parts, after)
    assert checked > 100


def test_a_block_counted_once_is_not_encoded_again(monkeypatch):
    block = "## Portfolio\n" + "\n".join(f"- [#{i}] Idea {i} — calm tea" for i in range(80))
    harmony_token_count_lines([block, "### [#1] first task"])
    encoded: list[str] = []
    real = harmony.harmony_text_encode

    def spy(text: str) -> list[int]:
        encoded.append(text)
        return real(text)

    monkeypatch.setattr(harmony, "harmony_text_encode", spy)
    harmony_token_count_lines([block, "### [#2] the next task"])
    assert encoded == ["### [#2] the next task"]
