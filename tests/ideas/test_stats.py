"""Pure statistics for snapshots and meta reviews."""

from __future__ import annotations

import itertools
import random

import pytest

from ideas.stagnation import jaccard, text_tokens
from ideas.stats import (
    brand_affinity,
    brand_drift,
    diversity,
    mean_pairwise_similarity,
    repetition,
    score_moments,
)


def test_score_moments():
    assert score_moments([2.0, 4.0, None, 6.0]) == {
        "n": 3,
        "mean": 4.0,
        "variance": pytest.approx(2.667, abs=1e-3),
    }
    assert score_moments([None]) == {"n": 0, "mean": None, "variance": None}


def test_diversity_is_zero_for_copies_and_one_for_strangers():
    assert diversity(["moon mug"] * 3) == 0.0
    assert diversity(["moon mug", "sakura plush", "tanabata workshop"]) == 1.0
    assert diversity(["alone"]) is None


def test_repetition_counts_near_copies():
    assert repetition(["moon mug", "moon mug", "sakura plush"]) == 0.5
    assert repetition(["moon mug"]) is None


def test_brand_drift_is_positive_when_newer_ideas_leave_the_brand_words():
    brand = "mochi rabbit tea moon dango"
    newest_first = ["crypto trading bot", "nft drop", "mochi rabbit tea", "moon dango rabbit"]
    result = brand_drift(newest_first, brand_text=brand)
    assert result["drift"] > 0.5
    assert 0 < result["affinity"] < 1
    assert brand_drift([], brand_text=brand) == {"affinity": None, "drift": None}


def test_pairwise_measures_equal_the_jaccard_definition_on_a_mixed_sample():
    """The bitset comparison gives exactly what pairwise ``jaccard`` of the word sets
    gives: English, Japanese bigrams, stop words only and empty texts included."""
    words = [
        "moon",
        "mug",
        "sakura",
        "plush",
        "tea",
        "the",
        "of",
        "抹茶",
        "ギフト",
        "夜の",
        "猫",
        "desk",
        "lamp",
        "candle",
        "gift",
    ]
    rng = random.Random(8)
    texts = [" ".join(rng.sample(words, rng.randint(0, 7))) for _ in range(60)]
    texts[5] = texts[9] = ""
    texts[11] = "the of"
    sets = [text_tokens(t) for t in texts]
    pairs = list(itertools.combinations(sets, 2))
    assert mean_pairwise_similarity(texts) == sum(jaccard(a, b) for a, b in pairs) / len(pairs)
    expected_repeats = sum(
        1 for i in range(1, len(sets)) if max(jaccard(sets[i], e) for e in sets[:i]) > 0.5
    )
    assert repetition(texts) == round(expected_repeats / (len(sets) - 1), 3)
    assert 0 < expected_repeats < len(sets) - 1  # the sample has both kinds


def _counting_bitsets(monkeypatch) -> list[int]:
    """Count how often the pairwise measures actually tokenise and compare a sample."""
    import ideas.stats as stats

    calls: list[int] = []
    real = stats._bitsets

    def counted(texts, first=None):
        calls.append(len(texts))
        return real(texts, first)

    monkeypatch.setattr(stats, "_bitsets", counted)
    return calls


def test_pairwise_measures_are_remembered_per_sample_and_redone_when_it_changes(monkeypatch):
    calls = _counting_bitsets(monkeypatch)
    # Texts no other test uses: the memo is per process.
    sample = [f"memo probe {n} lantern {n % 3}" for n in range(6)]
    first = (diversity(sample), repetition(sample))
    assert len(calls) == 1  # both measures read the sample's one set of similarities
    # The same sample again (a new list of equal strings, as a fresh query returns it).
    assert (diversity(list(sample)), repetition(list(sample))) == first
    assert len(calls) == 1
    # One idea edited: a new sample, measured afresh, with the result a cold call gives.
    edited = [*sample[:-1], "memo probe five kite"]
    assert diversity(edited) != first[0]
    assert len(calls) == 2
    # Another threshold is another count over the same similarities.
    assert repetition(edited, threshold=0.2) != repetition(edited)
    assert len(calls) == 2


def test_remembered_measures_equal_the_pairwise_definition():
    rng = random.Random(8)
    words = [f"w{n}" for n in range(40)]
    texts = [" ".join(rng.sample(words, rng.randint(0, 8))) for _ in range(30)]
    pairs = list(itertools.combinations([text_tokens(t) for t in texts], 2))
    expected = round(1.0 - sum(jaccard(a, b) for a, b in pairs) / len(pairs), 3)
    assert diversity(texts) == expected
    assert diversity(texts) == expected  # the remembered value, the same
    tokens = [text_tokens(t) for t in texts]
    repeats = sum(
        1
        for i in range(1, len(tokens))
        if any(jaccard(tokens[i], tokens[j]) > 0.5 for j in range(i))
    )
    assert repetition(texts) == round(repeats / (len(texts) - 1), 3)


def _reference_pairwise(texts: list[str], threshold: float) -> tuple[float | None, float | None]:
    """The mean similarity and the repetition as measured before samples were reused:
    every pair of the sample compared afresh, summed in ``combinations`` order."""
    sets = [text_tokens(t) for t in texts]
    if len(sets) < 2:
        return None, None
    total = 0.0
    for a, b in itertools.combinations(sets, 2):
        total += jaccard(a, b)
    mean = total / (len(sets) * (len(sets) - 1) // 2)
    repeats = sum(
        1 for i in range(1, len(sets)) if any(jaccard(sets[i], e) > threshold for e in sets[:i])
    )
    return mean, round(repeats / (len(sets) - 1), 3)


def test_sliding_samples_measure_exactly_what_a_fresh_comparison_does():
    """The loop's samples are the newest ideas: new ones come in front, old ones fall
    off, now and then one is edited. Reusing the previous sample's similarities gives
    the same numbers, to the last bit, as comparing every pair afresh."""
    rng = random.Random(87)
    words = [f"slide{n}" for n in range(30)] + ["抹茶", "ギフト", "the", "moon", "mug"]
    portfolio: list[str] = []  # oldest first
    checked = 0
    for step in range(60):
        for _ in range(rng.choice([0, 1, 1, 2, 3, 7])):
            portfolio.append(" ".join(rng.sample(words, rng.randint(0, 6))) + f" s{step}")
        if portfolio and rng.random() < 0.15:
            portfolio[rng.randrange(len(portfolio))] += " edited"
        for size in (12, 40):  # two sample sizes alternate, as scatter and snapshots do
            sample = portfolio[::-1][:size]
            for threshold in (0.5, 0.2):
                mean, repeats = _reference_pairwise(sample, threshold)
                assert mean_pairwise_similarity(sample) == mean
                assert repetition(sample, threshold=threshold) == repeats
                checked += 1
            assert diversity(sample) == (None if mean is None else round(1.0 - mean, 3))
    assert checked == 240
    assert len(portfolio) > 40  # the samples did slide past their size


def test_remembered_brand_drift_equals_measuring_afresh_and_is_a_fresh_dict():
    rng = random.Random(5)
    words = ["moon", "mug", "calm", "dango", "tea", "neon", "robot", "月見", "だんご", "laser"]
    brand = "Moon rabbit: calm tea and 月見だんご for a quiet evening"
    brand_tokens = text_tokens(brand)
    newest: list[str] = []
    for step in range(40):
        newest[:0] = [" ".join(rng.sample(words, rng.randint(0, 5))) + f" b{step}"]
        sample = newest[:15]
        values = [brand_affinity(t, brand_tokens=brand_tokens) for t in sample]
        half = len(values) // 2
        expected = {
            "affinity": round(sum(values) / len(values), 3),
            "drift": round(
                sum(values[half:]) / len(values[half:]) - sum(values[:half]) / len(values[:half]),
                3,
            )
            if half
            else None,
        }
        result = brand_drift(sample, brand_text=brand)
        assert result == expected
        result["affinity"] = -1.0  # a caller changing its copy changes nothing remembered
        assert brand_drift(list(sample), brand_text=brand) == expected
    assert brand_drift(newest[:15], brand_text="neon robot laser") != expected  # another brand


def test_an_edit_in_the_middle_compares_only_the_edited_text_afresh(monkeypatch):
    """A sample that did not merely slide (an idea edited or archived in its middle, a
    text repeated) reuses the remembered pairs of its unchanged texts: only the changed
    texts' words are encoded, and the numbers are those of comparing every pair afresh."""
    import ideas.stats as stats

    fresh_seen: list[list[int] | None] = []
    real = stats._bitsets

    def recorded(texts, fresh=None):
        fresh_seen.append(None if fresh is None else list(fresh))
        return real(texts, fresh)

    monkeypatch.setattr(stats, "_bitsets", recorded)
    rng = random.Random(31)
    words = [f"mid{n}" for n in range(25)] + ["抹茶", "mug"]
    sample = [" ".join(rng.sample(words, rng.randint(0, 7))) + f" m{n}" for n in range(23)]
    assert mean_pairwise_similarity(sample) == _reference_pairwise(sample, 0.5)[0]
    assert fresh_seen == [None]  # the first sample of its size: every pair compared
    variants = [
        [*sample[:9], sample[9] + " edited", *sample[10:]],  # one edited in the middle
        [*sample[:4], *sample[5:], "a newcomer at the end mid3"],  # one archived
        [sample[3], *sample[:3], *sample[4:]],  # reordered: remembered rows read down
        [*sample[:11], sample[0], *sample[12:]],  # a repeated text is compared afresh
    ]
    for variant in variants:
        fresh_seen.clear()
        mean, repeats = _reference_pairwise(variant, 0.5)
        assert mean_pairwise_similarity(variant) == mean
        assert repetition(variant) == repeats
        assert fresh_seen and all(fresh is not None and len(fresh) <= 2 for fresh in fresh_seen), (
            fresh_seen
        )
