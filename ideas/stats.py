"""Portfolio statistics for snapshots and the meta review. Pure Python, no Django.

The text measures are pairwise, so callers pass a bounded sample (the newest ideas),
never the whole portfolio.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence

from ideas.stagnation import jaccard, text_tokens

# Two ideas this similar (Jaccard of word sets) count as repeating each other.
REPETITION_THRESHOLD = 0.5


def score_moments(values: Iterable[float | None]) -> dict[str, float | int | None]:
    """Count, mean and population variance of the values that are set."""
    present = [float(v) for v in values if v is not None]
    if not present:
        return {"n": 0, "mean": None, "variance": None}
    mean = sum(present) / len(present)
    variance = sum((v - mean) ** 2 for v in present) / len(present)
    return {"n": len(present), "mean": round(mean, 3), "variance": round(variance, 3)}


def mean_pairwise_similarity(texts: Sequence[str]) -> float | None:
    token_sets = [text_tokens(t) for t in texts]
    pairs = list(itertools.combinations(token_sets, 2))
    if not pairs:
        return None
    return sum(jaccard(a, b) for a, b in pairs) / len(pairs)


def diversity(texts: Sequence[str]) -> float | None:
    """1 − the mean pairwise similarity: 0 when all ideas say the same, 1 when none overlap."""
    similarity = mean_pairwise_similarity(texts)
    return None if similarity is None else round(1.0 - similarity, 3)


def repetition(texts: Sequence[str], threshold: float = REPETITION_THRESHOLD) -> float | None:
    """Share of texts (after the first) that nearly repeat an earlier one."""
    token_sets = [text_tokens(t) for t in texts]
    if len(token_sets) < 2:
        return None
    repeats = sum(
        1
        for index in range(1, len(token_sets))
        if max(jaccard(token_sets[index], earlier) for earlier in token_sets[:index]) > threshold
    )
    return round(repeats / (len(token_sets) - 1), 3)


def brand_affinity(text: str, *, brand_tokens: frozenset[str]) -> float:
    """Share of an idea's words that are the brand's own words (0..1)."""
    tokens = text_tokens(text)
    if not tokens:
        return 0.0
    return len(tokens & brand_tokens) / len(tokens)


def brand_drift(texts_newest_first: Sequence[str], *, brand_text: str) -> dict[str, float | None]:
    """How far the newest ideas have moved from the brand's vocabulary.

    ``affinity`` is the mean share of brand words in the sample. Raw affinity depends on
    how wordy the profile is, so ``drift`` compares the older half of the sample with
    the newer half: positive means the newer ideas use fewer of the brand's words.
    """
    brand = text_tokens(brand_text)
    values = [brand_affinity(t, brand_tokens=brand) for t in texts_newest_first]
    if not values:
        return {"affinity": None, "drift": None}
    affinity = sum(values) / len(values)
    half = len(values) // 2
    if half == 0:
        return {"affinity": round(affinity, 3), "drift": None}
    newer, older = values[:half], values[half:]
    drift = sum(older) / len(older) - sum(newer) / len(newer)
    return {"affinity": round(affinity, 3), "drift": round(drift, 3)}
