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
