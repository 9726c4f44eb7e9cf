"""Word-set Jaccard similarity for English and Japanese, and the stall verdict."""

from __future__ import annotations

import pytest

from ideas.stagnation import jaccard, stagnation_check, text_similarity, text_tokens


def test_it_tokenises_english_into_lowercase_words_without_stop_words():
    assert text_tokens("The Moon Mug, and the moon PLUSH!") == {"moon", "mug", "plush"}


def test_it_tokenises_japanese_into_character_bigrams():
    assert text_tokens("月見だんご") == {"月見", "見だ", "だん", "んご"}


def test_it_keeps_a_single_kanji_as_a_token():
    assert text_tokens("月") == {"月"}


def test_it_handles_mixed_japanese_and_english():
    assert text_tokens("もちうさ LINE スタンプ") == {
        "もち",
        "ちう",
        "うさ",
        "line",
        "スタ",
        "タン",
        "ンプ",
    }


def test_it_folds_full_width_latin_and_half_width_kana():
    assert text_tokens("ＭＯＣＨＩ ｽﾀﾝﾌﾟ") == text_tokens("mochi スタンプ")


def test_identical_texts_are_fully_similar():
    assert text_similarity("moon mug set", "Moon mug set.") == 1.0
    assert text_similarity("月見だんごのぬいぐるみ", "月見だんごのぬいぐるみ") == 1.0


def test_disjoint_texts_have_zero_similarity():
    assert text_similarity("moon mug", "sakura plush") == 0.0
    assert text_similarity("月見だんご", "桜もち") == 0.0


def test_similar_japanese_texts_score_between_zero_and_one():
    value = text_similarity(
        "月見だんごのぬいぐるみを秋に限定販売", "月見だんごのぬいぐるみを冬に限定販売"
    )
    assert 0.5 < value < 1.0


def test_empty_texts():
    assert jaccard(frozenset(), frozenset()) == 1.0
    assert text_similarity("", "moon") == 0.0


def _repeats(n: int) -> list[str]:
    return ["Mochiusa moon mug with dango lid"] * n


def test_it_calls_a_run_of_repeats_stalled():
    assert stagnation_check(
        recent_texts=_repeats(3),
        new_text="Mochiusa moon mug with dango lid",
        threshold=0.6,
        window=3,
    )


def test_it_calls_a_run_of_japanese_repeats_stalled():
    recent = ["月見だんごのぬいぐるみ秋限定"] * 3
    assert stagnation_check(
        recent_texts=recent, new_text="月見だんごのぬいぐるみ秋限定", threshold=0.6, window=3
    )


def test_a_single_echo_is_not_a_stall():
    recent = ["sakura plush keychain", "matcha café collab", "moon mug with dango lid"]
    assert not stagnation_check(
        recent_texts=recent, new_text="moon mug with dango lid", threshold=0.6, window=3
    )


def test_a_fresh_direction_breaks_the_run():
    assert not stagnation_check(
        recent_texts=_repeats(5),
        new_text="Tanabata wish workshop at a Kyoto café",
        threshold=0.6,
        window=3,
    )


def test_too_little_history_gives_no_verdict():
    assert not stagnation_check(
        recent_texts=_repeats(2),
        new_text="Mochiusa moon mug with dango lid",
        threshold=0.6,
        window=3,
    )
    assert stagnation_check(
        recent_texts=_repeats(3),
        new_text="Mochiusa moon mug with dango lid",
        threshold=0.6,
        window=3,
    )


def test_the_threshold_is_strict():
    # {a, b, c} vs {a, b, d}: Jaccard 2/4 = 0.5 exactly.
    recent = ["alpha beta gamma"]
    assert text_similarity("alpha beta gamma", "alpha beta delta") == 0.5
    assert not stagnation_check(
        recent_texts=recent, new_text="alpha beta delta", threshold=0.5, window=1
    )
    assert stagnation_check(
        recent_texts=recent, new_text="alpha beta delta", threshold=0.49, window=1
    )


@pytest.mark.parametrize(("threshold", "window"), [(0.5, 0), (1.5, 1), (-0.1, 1)])
def test_it_rejects_nonsense_parameters(threshold, window):
    with pytest.raises(ValueError):
        stagnation_check(recent_texts=["a"], new_text="a", threshold=threshold, window=window)
