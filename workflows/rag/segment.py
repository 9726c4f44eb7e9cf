"""Text to index terms, the same way for documents and queries.

Japanese has no spaces between words, so a full-text index over raw text cannot find
売上 inside 今月の売上は増えた. janome (a pure-Python morphological analyser with the
IPADIC dictionary) cuts Japanese runs into words; particles, auxiliary verbs, symbols
and a few empty verbs (する, ある…) are dropped, and conjugated words are indexed by
their dictionary form so 返品された and 返品します meet on 返品 and する is dropped.
Other scripts are split into lowercase words. Text is NFKC-normalised first, so
full-width ＡＢＣ and half-width ｶﾀｶﾅ match their usual forms.

Every term is made only of letters, digits and combining marks, so the database's own
tokenizers (SQLite FTS5 unicode61, PostgreSQL's 'simple' parser) never cut a term
differently from here; the index is a candidate filter and the scoring reads these terms.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from janome.tokenizer import Tokenizer

# Hiragana, katakana (and the prolonged sound mark), CJK ideographs and the iteration
# mark: a run of these goes to janome.
_JAPANESE = "\u3005\u3007\u3040-\u309f\u30a0-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_RUNS = re.compile(rf"([{_JAPANESE}0-9]*[{_JAPANESE}][{_JAPANESE}0-9]*)|([^\W_{_JAPANESE}]+)")

# Parts of speech that carry no topic: particles, auxiliary verbs, symbols, fillers.
_DROPPED_POS = {"助詞", "助動詞", "記号", "フィラー", "その他"}
# Dictionary forms too common to rank anything (する of 返品する, ある, いる…).
_JAPANESE_STOP = {
    "する",
    "ある",
    "いる",
    "なる",
    "れる",
    "られる",
    "せる",
    "させる",
    "こと",
    "もの",
}
_ENGLISH_STOP = {
    "a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "in", "is", "it",
    "of", "on", "or", "that", "the", "to", "was", "were", "with",
}  # fmt: skip


@functools.cache
def _tokenizer() -> Tokenizer:
    # Loading the dictionary takes about a second: once per process.
    from janome.tokenizer import Tokenizer

    return Tokenizer()


def _clean(term: str) -> str:
    """Keep letters, digits and combining marks only (what every index tokenizer keeps)."""
    return "".join(ch for ch in term if unicodedata.category(ch)[0] in "LNM").lower()


def _japanese_terms(run: str) -> list[str]:
    terms = []
    for token in _tokenizer().tokenize(run):
        if isinstance(token, str):  # only with wakati=True, which we never ask for
            continue
        pos = token.part_of_speech.split(",")
        # 非自立: words that lean on another (ください, the いる of 〜ている, こと).
        if pos[0] in _DROPPED_POS or pos[1] == "非自立":
            continue
        base = token.base_form if token.base_form != "*" else token.surface
        term = _clean(base)
        if term and term not in _JAPANESE_STOP:
            terms.append(term)
    return terms


def segment_terms(text: str) -> list[str]:
    """The index terms of ``text`` in order (repeats kept: term frequency counts them)."""
    text = unicodedata.normalize("NFKC", text)
    terms: list[str] = []
    for match in _RUNS.finditer(text):
        japanese, other = match.group(1), match.group(2)
        if japanese:
            terms.extend(_japanese_terms(japanese))
        else:
            term = _clean(other)
            if term and term not in _ENGLISH_STOP:
                terms.append(term)
    return terms


def segment_text(text: str) -> str:
    """``segment_terms`` joined by single spaces: the text the full-text index holds."""
    return " ".join(segment_terms(text))
