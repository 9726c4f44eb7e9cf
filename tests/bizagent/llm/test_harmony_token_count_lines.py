"""harmony_token_count_lines: the exact count of joined lines, from remembered counts of
the parts, so a context encodes only what is new in it."""

from __future__ import annotations

import random

import pytest

import bizagent.llm.harmony as harmony
from bizagent.llm.harmony import harmony_token_count, harmony_token_count_lines

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


def test_it_counts_random_lines_like_the_joined_text():
    alphabet = "ab Zé月1/ \n]-.#'…\t"
    rng = random.Random(8)
    for _ in range(300):
        texts = [
            "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 6)))
            for _ in range(rng.randint(1, 5))
        ]
        assert harmony_token_count_lines(texts) == harmony_token_count("\n".join(texts)), texts


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
