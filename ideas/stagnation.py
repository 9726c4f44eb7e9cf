"""Stagnation detection: is the loop saying the same thing again?

Pure functions, no Django. Similarity is the Jaccard index of two word sets. Japanese
has no spaces between words, so a run of kana/kanji contributes its character bigrams
instead of words (the usual dictionary-free way to compare Japanese text); Latin script
and digits are split on non-word characters. Mixed text gets both kinds of token.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# Hiragana, Katakana (incl. the long-vowel mark ー and phonetic extensions), CJK
# ideographs and extension A, and the iteration mark 々.
_CJK = "\u3005\u3040-\u309f\u30a0-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff"
_TOKEN_RE = re.compile(rf"[{_CJK}]+|[^\W{_CJK}_]+")
_CJK_RUN_RE = re.compile(rf"[{_CJK}]+")

# Words too common to say anything about what an update is about. Kept short: a long
# stop list would hide real repetition of phrasing.
# fmt: off
_STOP_WORDS = frozenset({
    "a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "has", "have", "in",
    "is", "it", "its", "of", "on", "or", "that", "the", "this", "to", "was", "were",
    "will", "with", "we", "our", "you", "your",
})
# fmt: on


@lru_cache(maxsize=1024)
def text_tokens(text: str) -> frozenset[str]:
    """The word set of ``text``: lower-cased words, plus character bigrams for CJK runs.

    NFKC folds full-width Latin (ＡＢＣ) and half-width kana to their usual forms first,
    so the same words typed on a Japanese keyboard compare equal.

    Cached: every iteration compares its update with the role's recent updates, which
    are the same texts iteration after iteration (a frozenset result cannot be changed
    by a caller, so sharing it is safe).
    """
    normalised = unicodedata.normalize("NFKC", text).casefold()
    tokens: set[str] = set()
    for match in _TOKEN_RE.finditer(normalised):
        run = match.group()
        if _CJK_RUN_RE.fullmatch(run):
            if len(run) == 1:
                tokens.add(run)
            else:
                tokens.update(run[i : i + 2] for i in range(len(run) - 1))
        elif run not in _STOP_WORDS:
            tokens.add(run)
    return frozenset(tokens)


def jaccard(a: frozenset[str] | set[str], b: frozenset[str] | set[str]) -> float:
    """|a ∩ b| / |a ∪ b|; two empty sets count as identical (1.0)."""
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def text_similarity(a: str, b: str) -> float:
    """Jaccard similarity of the word sets of two texts, in [0, 1]."""
    return jaccard(text_tokens(a), text_tokens(b))


def stagnation_check(
    *, recent_texts: list[str], new_text: str, threshold: float, window: int
) -> bool:
    """True when the last ``window`` updates each repeat an earlier one.

    ``recent_texts`` are the thread's previous updates, oldest first; ``new_text`` is the
    one just produced. Each of the last ``window`` texts of ``recent_texts + [new_text]``
    is compared with every text before it; if its best similarity is strictly over
    ``threshold`` it is a repeat. All ``window`` must be repeats: a single echo is normal,
    a run of them is a stalled thread. With too little history there is no verdict
    (False), so a new thread is never called stalled.
    """
    if window < 1:
        raise ValueError("window must be at least 1")
    if not 0.0 <= threshold <= 1.0:
        raise ValueError("threshold must be within [0, 1]")
    sequence = [text_tokens(text) for text in [*recent_texts, new_text]]
    if len(sequence) < window + 1:
        return False
    for index in range(len(sequence) - window, len(sequence)):
        best = max(jaccard(sequence[index], earlier) for earlier in sequence[:index])
        if best <= threshold:
            return False
    return True
