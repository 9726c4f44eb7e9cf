"""Portfolio statistics for snapshots and the meta review. Pure Python, no Django.

The text measures are pairwise, so callers pass a bounded sample (the newest ideas),
never the whole portfolio.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import chain

from ideas.stagnation import text_tokens

# Two ideas this similar (Jaccard of word sets) count as repeating each other.
REPETITION_THRESHOLD = 0.5
#: How many samples' pairwise measures are remembered (per process). The loop measures
#: the same newest ideas iteration after iteration (``scatter_measure``, the portfolio
#: statistics of a meta review and a snapshot) until an idea is added or edited.
MEMO_SAMPLES = 16


def score_moments(values: Iterable[float | None]) -> dict[str, float | int | None]:
    """Count, mean and population variance of the values that are set."""
    present = [float(v) for v in values if v is not None]
    if not present:
        return {"n": 0, "mean": None, "variance": None}
    mean = sum(present) / len(present)
    variance = sum((v - mean) ** 2 for v in present) / len(present)
    return {"n": len(present), "mean": round(mean, 3), "variance": round(variance, 3)}


def _bitsets(
    texts: Sequence[str], fresh: Sequence[int] | None = None
) -> tuple[list[int], list[int]]:
    """Each text's word set as one integer (a bit per word) and its size.

    Comparing two sets is then one ``&`` and one ``bit_count``, instead of building the
    intersection and union sets: the pairwise measures below compare every pair of a
    sample of up to 200 ideas (19,900 pairs), on every snapshot, planner prompt and
    meta review, and this is about ten times faster with the same results.

    ``fresh``: bits only for the words of the texts at those positions, enough to compare
    those with every text (a word none of them has is in no intersection with them), and
    a fraction of the work when a slid or edited sample brings a few new texts.
    """
    token_sets = [text_tokens(text) for text in texts]
    index: dict[str, int] = {}
    for position in range(len(texts)) if fresh is None else fresh:
        for token in token_sets[position]:
            index.setdefault(token, len(index))
    bits: list[int] = []
    for tokens in token_sets:
        value = 0
        for token in tokens if fresh is None else tokens & index.keys():
            value |= 1 << index[token]
        bits.append(value)
    return bits, [len(tokens) for tokens in token_sets]


def mean_pairwise_similarity(texts: Sequence[str]) -> float | None:
    """Mean Jaccard similarity over all pairs of ``texts`` (None below two texts).

    Remembered per sample (the texts themselves are the key, so a changed or added idea
    is a new sample, measured afresh): the pairwise loop is the costly part.
    """
    return _pairwise_mean(tuple(texts))


@dataclass(frozen=True)
class _SampleSimilarities:
    """A sample's pairwise similarities: ``rows[i]`` holds text ``i``'s with texts
    ``i + 1`` onwards (the ``itertools.combinations`` order, row after row), and, per
    repetition threshold, whether each text nearly repeats an earlier one."""

    texts: tuple[str, ...]
    rows: tuple[list[float], ...]
    repeats: dict[float, list[bool]] = field(default_factory=dict)


#: The latest sample's similarities per sample size: ``scatter_measure`` reads the newest
#: 50 every iteration, a snapshot or a meta review the newest 200 every few iterations,
#: each sliding from its own previous sample (one shared slot would hold only the 50).
_recent_samples: dict[int, _SampleSimilarities] = {}
#: A few sizes at a time (a small portfolio's sample grows with it, one size per idea).
SIZES_KEPT = 8


def _slid(texts: tuple[str, ...]) -> tuple[_SampleSimilarities, int] | None:
    """A remembered sample ``texts`` slid from: ``k`` new texts in front, then the older
    sample's first ``len(texts) - k`` (the newest ideas, after ``k`` were added)."""
    count = len(texts)
    best: tuple[_SampleSimilarities, int] | None = None
    for state in list(_recent_samples.values()):  # a copy: another thread may add one
        if not state.texts:
            continue
        first = state.texts[0]
        for k in range(count):
            if (
                texts[k] == first
                and count - k <= len(state.texts)
                and texts[k:] == state.texts[: count - k]
            ):
                if best is None or k < best[1]:
                    best = (state, k)
                break
    return best


def _row_compared(bits: Sequence[int], sizes: Sequence[int], i: int) -> list[float]:
    """Text ``i``'s similarities with texts ``i + 1`` onwards (a row of the sample).

    Jaccard written out (two empty sets: 1.0): a call per pair was most of the cost; one
    comprehension, not a loop of appends, as it runs for every pair (``for common in
    [...]`` is a plain assignment there since Python 3.9).
    """
    a, size_a = bits[i], sizes[i]
    return [
        common / union if (union := size_a + size_b - common) else 1.0
        for b, size_b in zip(bits[i + 1 :], sizes[i + 1 :], strict=True)
        for common in [(a & b).bit_count()]
    ]


def _similarities(texts: tuple[str, ...]) -> _SampleSimilarities:
    """``texts``' pairwise similarities, reusing a remembered sample it slid from.

    The loop's samples are the newest ideas, so from one measure to the next a few new
    ideas come in front and as many old ones fall off the end: only the new texts' rows
    are compared, the others are the remembered rows cut short (a slice each), instead
    of all 19,900 pairs of a 200-idea sample again. Each value is the same division of
    the same two integers, so the numbers are the same as measuring afresh.
    """
    found = _slid(texts)
    count = len(texts)
    if found is None and (kept := _recent_samples.get(count)) is not None:
        return _similarities_reused(texts, kept)
    state, k = found if found is not None else (None, len(texts))
    # Only the new texts are compared (with every other one); none new, nothing to encode.
    if state is None:
        bits, sizes = _bitsets(texts)
    else:
        bits, sizes = _bitsets(texts, range(k)) if k else ([], [])
    rows: list[list[float]] = []
    for i in range(k):
        rows.append(_row_compared(bits, sizes, i))
    if state is not None:
        # The older text ``m`` is now ``m + k``; its partners past the sample's end fell off.
        rows += [state.rows[m][: count - k - m - 1] for m in range(count - k)]
    result = _SampleSimilarities(texts=texts, rows=tuple(rows))
    if state is not None:
        for threshold, was in state.repeats.items():
            result.repeats[threshold] = _repeats_slid(result, k, was, threshold)
    if len(_recent_samples) >= SIZES_KEPT and count not in _recent_samples:
        _recent_samples.clear()
    _recent_samples[count] = result
    return result


def _similarities_reused(texts: tuple[str, ...], kept: _SampleSimilarities) -> _SampleSimilarities:
    """``texts``' pairwise similarities from ``kept``'s wherever both texts of a pair are
    in it, comparing afresh only the pairs with a text it lacks.

    For a sample that did not merely slide: an idea edited (or archived) in its middle
    made every pair new to ``_slid``, and the loop's samples were compared afresh, all
    19,900 pairs of a 200-idea snapshot sample, about once an epoch. A pair's similarity
    depends on its two texts alone (the same division of the same two integers), and
    the rows are built in the same order, so the numbers are the same as measuring
    afresh. The remembered texts keep their order in the newest ideas, so most of a row
    is one slice of a remembered row.
    """
    count = len(texts)
    where: dict[str, int | None] = {}
    for position, text in enumerate(kept.texts):
        where.setdefault(text, position)
    # Each remembered text stands for one position at most (a repeated text is fresh).
    old = [where.pop(text, None) for text in texts]
    fresh = [i for i, position in enumerate(old) if position is None]
    bits, sizes = _bitsets(texts, fresh) if fresh else ([], [])
    # Where the run of remembered texts at each position ends (found once, not per row).
    run_end = list(range(count))
    for j in range(count - 2, -1, -1):
        this, after = old[j], old[j + 1]
        if this is not None and after is not None and after == this + 1:
            run_end[j] = run_end[j + 1]
    rows: list[list[float]] = []
    for i in range(count):
        oi = old[i]
        if oi is None:  # a fresh text: its whole row compared, as in ``_similarities``
            rows.append(_row_compared(bits, sizes, i))
            continue
        row: list[float] = []
        j = i + 1
        while j < count:
            oj = old[j]
            if oj is None:
                a, b = bits[i], bits[j]
                common = (a & b).bit_count()
                union = sizes[i] + sizes[j] - common
                row.append(common / union if union else 1.0)
                j += 1
                continue
            end = run_end[j]  # the run of texts remembered one after the other
            if oj > oi:
                row += kept.rows[oi][oj - oi - 1 : oj - oi + end - j]
            else:  # remembered before text ``i``: read down the remembered rows
                row += [kept.rows[o][oi - o - 1] for o in range(oj, oj + end - j + 1)]
            j = end + 1
        rows.append(row)
    result = _SampleSimilarities(texts=texts, rows=tuple(rows))
    _recent_samples[count] = result
    return result


def _repeats_slid(
    sample: _SampleSimilarities, k: int, was: list[bool], threshold: float
) -> list[bool]:
    """Per text, whether it nearly repeats an earlier one, from the sample it slid from:
    an older text's earlier texts are all still there, in front only the ``k`` new ones."""
    rows = sample.rows
    flags = [any(rows[j][i - j - 1] > threshold for j in range(i)) for i in range(k)]
    flags += [
        was[m] or any(rows[j][m + k - j - 1] > threshold for j in range(k))
        for m in range(len(sample.texts) - k)
    ]
    return flags


@lru_cache(maxsize=MEMO_SAMPLES)
def _pairwise_mean(texts: tuple[str, ...]) -> float | None:
    count = len(texts)
    if count < 2:
        return None
    # ``sum`` adds the floats one after the other in that order (Python 3.11), as the
    # pairwise loop did, so the total is the same to the last bit.
    total = sum(chain.from_iterable(_similarities(texts).rows))
    return total / (count * (count - 1) // 2)


def diversity(texts: Sequence[str]) -> float | None:
    """1 − the mean pairwise similarity: 0 when all ideas say the same, 1 when none overlap."""
    similarity = mean_pairwise_similarity(texts)
    return None if similarity is None else round(1.0 - similarity, 3)


def repetition(texts: Sequence[str], threshold: float = REPETITION_THRESHOLD) -> float | None:
    """Share of texts (after the first) that nearly repeat an earlier one.

    Remembered per sample and threshold, like ``mean_pairwise_similarity``.
    """
    return _repetition(tuple(texts), threshold)


@lru_cache(maxsize=MEMO_SAMPLES)
def _repetition(texts: tuple[str, ...], threshold: float) -> float | None:
    count = len(texts)
    if count < 2:
        return None
    sample = _recent_samples.get(count)
    if sample is None or sample.texts != texts:
        sample = _similarities(texts)
    flags = sample.repeats.get(threshold)
    if flags is None:
        rows = sample.rows
        flags = [any(rows[j][i - j - 1] > threshold for j in range(i)) for i in range(count)]
        sample.repeats[threshold] = flags
    return round(sum(flags[1:]) / (count - 1), 3)


def brand_affinity(text: str, *, brand_tokens: frozenset[str]) -> float:
    """Share of an idea's words that are the brand's own words (0..1)."""
    tokens = text_tokens(text)
    if not tokens:
        return 0.0
    return len(tokens & brand_tokens) / len(tokens)


@lru_cache(maxsize=1024)
def _affinity(text: str, brand_tokens: frozenset[str]) -> float:
    # Per text: a sample slides by a few ideas, the others' shares are the same.
    return brand_affinity(text, brand_tokens=brand_tokens)


def brand_drift(texts_newest_first: Sequence[str], *, brand_text: str) -> dict[str, float | None]:
    """How far the newest ideas have moved from the brand's vocabulary.

    ``affinity`` is the mean share of brand words in the sample. Raw affinity depends on
    how wordy the profile is, so ``drift`` compares the older half of the sample with
    the newer half: positive means the newer ideas use fewer of the brand's words.
    """
    # A new dict per call: the remembered one is never handed out to be changed.
    return dict(_brand_drift(tuple(texts_newest_first), brand_text))


@lru_cache(maxsize=MEMO_SAMPLES)
def _brand_drift(texts_newest_first: tuple[str, ...], brand_text: str) -> dict[str, float | None]:
    brand = text_tokens(brand_text)
    values = [_affinity(t, brand) for t in texts_newest_first]
    if not values:
        return {"affinity": None, "drift": None}
    affinity = sum(values) / len(values)
    half = len(values) // 2
    if half == 0:
        return {"affinity": round(affinity, 3), "drift": None}
    newer, older = values[:half], values[half:]
    drift = sum(older) / len(older) - sum(newer) / len(newer)
    return {"affinity": round(affinity, 3), "drift": round(drift, 3)}
