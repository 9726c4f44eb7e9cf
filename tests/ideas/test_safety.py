"""The built-in line and an IP's taboos."""

from __future__ import annotations

from ideas.safety import content_violations, idea_text

TABOOS = [
    {"topic": "horror", "keywords": ["ホラー", "gore", "zombie"]},
    {"topic": "alcohol", "keywords": ["ビール", "beer"]},
]


def test_a_clean_idea_passes():
    assert content_violations(text="月見だんごのぬいぐるみ: a moon plush", taboos=TABOOS) == []


def test_it_refuses_illegal_ideas_in_english_and_japanese():
    assert content_violations(text="Sell counterfeit Sanrio goods", taboos=[])[0].startswith(
        "built-in line (illegal)"
    )
    assert content_violations(text="海賊版グッズを販売", taboos=[])


def test_it_refuses_violent_ideas():
    reasons = content_violations(text="A plush that holds a gun", taboos=[])
    assert reasons == ["built-in line (violent): gun"]
    assert content_violations(text="暴力的なバトルカード", taboos=[])


def test_latin_keywords_match_whole_words_only():
    assert content_violations(text="A skill-share workshop, begun in spring", taboos=[]) == []
    assert content_violations(text="Zombies at the café", taboos=TABOOS)  # plural


def test_it_refuses_taboos_with_the_topic_named():
    reasons = content_violations(text="ホラーナイト with Mochiusa", taboos=TABOOS)
    assert reasons == ["taboo (horror): ホラー"]


def test_it_folds_width_and_case():
    assert content_violations(text="ＢＥＥＲ garden pop-up", taboos=TABOOS) == [
        "taboo (alcohol): beer"
    ]


def test_idea_text_includes_tags():
    assert "zombie" in idea_text({"title": "Night", "tags": ["zombie"]})


def test_the_substring_screen_finds_what_the_patterns_alone_find():
    from ideas.safety import BUILTIN_LINE, _find, _fold, _keyword_pattern

    keywords = [kw for words in BUILTIN_LINE.values() for kw in words] + [
        "ホラー",
        "ＢＥＥＲ",
        "Zombie",
        "self-harm",
        "  ",
    ]
    texts = [
        "A skill-share workshop, begun in spring",  # literals inside words: no match
        "Guns, bombs and a KILLING spree; the killer's skills",
        "ＢＥＥＲ garden pop-up with zombies and ホラー films",
        "self-harmful? no: self-harm. Tax evasion and money laundering schemes",
        "海賊版グッズと偽物の銃、爆弾ではない暴力",
        "scammer scams scam: a scams-free ponzis plan",
        "",
    ]
    for text in texts:
        folded = _fold(text)
        by_pattern = [kw for kw in keywords if kw.strip() and _keyword_pattern(kw).search(folded)]
        assert _find(folded, keywords) == by_pattern, text
    assert _find(_fold(texts[2]), keywords) == ["ホラー", "ＢＥＥＲ", "Zombie"]
