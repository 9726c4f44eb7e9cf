"""segment_terms: Japanese cut into words by janome, other scripts into lowercase words,
particles, auxiliary verbs and punctuation dropped, the same way for text and queries."""

from __future__ import annotations

from workflows.rag.segment import segment_terms, segment_text


def test_it_finds_two_character_japanese_words_inside_a_sentence():
    terms = segment_terms("今月の売上は前年比で増加した。顧客からの返品が多い。")
    assert {"売上", "顧客", "返品"} <= set(terms)


def test_it_drops_particles_auxiliaries_and_punctuation():
    terms = segment_terms("顧客からの返品が多いです。")
    assert terms == ["顧客", "返品", "多い"]


def test_it_indexes_conjugated_words_by_their_dictionary_form():
    assert segment_terms("返品されました") == segment_terms("返品します") == ["返品"]


def test_it_lowercases_and_splits_other_scripts_into_words():
    assert segment_terms("Returns, RETURNS and snake_case-words!") == [
        "returns",
        "returns",
        "snake",
        "case",
        "words",
    ]


def test_it_normalises_full_width_and_half_width_forms():
    assert segment_terms("ＡＢＣ社のﾃｽﾄ") == ["abc", "社", "テスト"]


def test_mixed_text_keeps_both_scripts_apart():
    assert segment_terms("ABC社の返品ポリシー") == ["abc", "社", "返品", "ポリシー"]


def test_harmony_markers_are_only_words():
    assert segment_terms("<|start|>user<|message|>") == ["start", "user", "message"]


def test_segment_text_joins_terms_with_single_spaces():
    assert segment_text("売上 と 顧客") == "売上 顧客"
    assert segment_text("。、！") == ""
