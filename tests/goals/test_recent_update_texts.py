"""``recent_update_texts``: the texts of ``recent_answers``' answers, each stored answer's
text remembered per process and keyed on its stored JSON, so nothing stale is served."""

from __future__ import annotations

import pytest

from goals import selectors
from goals.models import Iteration
from goals.roles import HANDLERS
from goals.selectors import (
    ideator_text,
    recent_answers,
    recent_directions_split,
    recent_ideator_texts,
    recent_update_texts,
)
from tests.goals.factories import ThemeFactory
from tests.goals.test_recent_answers import _iteration, _mixed_iterations

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def _critique(text: str) -> dict:
    return {"critiques": [{"idea_id": 1, "text": text}]}


class _Counting:
    """A text function that counts its calls (a plain function object for the key)."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, parsed) -> str:
        self.calls += 1
        # The critiques' texts: not ``str(parsed)``, whose key order PostgreSQL's jsonb
        # does not keep.
        return " ".join(critique["text"] for critique in parsed["critiques"])


def test_the_texts_are_those_of_recent_answers(theme):
    other = ThemeFactory(status="archived")
    _mixed_iterations(
        theme, role="critic", other_role="ideator", parsed_of=lambda n: _critique(f"批評 {n}")
    )
    for number in range(1, 13):
        _iteration(other, number, role="critic", outcome="ok", parsed=_critique("other"))
    text_of = HANDLERS["critic"].update_text
    for limit in (1, 3, 6, 20):
        expected = [text_of(a) for a in recent_answers(theme=theme, role="critic", limit=limit)]
        # Twice: the second read serves the remembered texts.
        for _ in range(2):
            got = recent_update_texts(theme=theme, role="critic", limit=limit, text_of=text_of)
            assert got == expected
    assert recent_update_texts(theme=theme, role="planner", limit=5, text_of=text_of) == []


def test_an_answer_is_converted_once_and_a_changed_one_again(theme):
    first = _iteration(theme, 1, role="critic", outcome="ok", parsed=_critique("one"))
    _iteration(theme, 2, role="critic", outcome="ok", parsed=_critique("two"))
    counting = _Counting()
    texts = recent_update_texts(theme=theme, role="critic", limit=4, text_of=counting)
    assert texts == ["one", "two"]
    assert counting.calls == 2
    recent_update_texts(theme=theme, role="critic", limit=4, text_of=counting)
    assert counting.calls == 2  # both remembered

    # A stored answer changed behind the loop's back (a plain update) is read afresh.
    Iteration.objects.filter(pk=first.pk).update(parsed=_critique("changed"))
    texts = recent_update_texts(theme=theme, role="critic", limit=4, text_of=counting)
    assert texts == ["changed", "two"]
    assert counting.calls == 3


def test_another_text_function_is_not_served_the_first_ones_texts(theme):
    _iteration(theme, 1, role="critic", outcome="ok", parsed=_critique("one"))
    recent_update_texts(theme=theme, role="critic", limit=2, text_of=lambda p: "first")
    got = recent_update_texts(theme=theme, role="critic", limit=2, text_of=lambda p: "second")
    assert got == ["second"]


def test_recent_ideator_texts_reads_what_its_orm_form_read(theme):
    """``recent_ideator_texts`` (the meta review's repetition sample) goes through the
    memo and gives what its ORM query gave."""
    _mixed_iterations(
        theme,
        role="ideator",
        other_role="critic",
        parsed_of=lambda n: {"ideas": [{"title": f"案 {n}", "summary": "s"}]},
        count=14,
    )
    for limit in (1, 4, 20):
        rows = (
            Iteration.objects.filter(
                theme=theme,
                role="ideator",
                outcome__in=(Iteration.Outcome.OK, Iteration.Outcome.REPAIRED),
            )
            .order_by("-id")
            .values_list("parsed", flat=True)[:limit]
        )
        expected = [ideator_text(parsed) for parsed in reversed(list(rows)) if parsed]
        assert expected  # the sample is not empty: the comparison says something
        for _ in range(2):
            assert recent_ideator_texts(theme=theme, limit=limit) == expected


def test_the_ideators_directions_decode_only_the_batches_shown_and_each_once(theme, monkeypatch):
    """``recent_directions_split`` reads up to ``limit`` + ``RECENT_SINCE_CAP`` batches
    (how many are "since" is not known up front) but decodes only those it shows, each
    once per process; a batch changed since is decoded again."""
    for number in range(1, 31):
        parsed = {"direction": f"方向 {number}", "ideas": [{"title": f"案 {number}"}]}
        _iteration(theme, number, role="ideator", outcome="ok", parsed=parsed)
    selectors._answer_texts.kept.clear()
    decoded = []
    decode = selectors._parsed_decode
    monkeypatch.setattr(selectors, "_parsed_decode", lambda raw: decoded.append(raw) or decode(raw))

    before, since = recent_directions_split(theme=theme, limit=3, since=28)
    assert before == [f"方向 {n} (案 {n})" for n in (25, 26, 27)]
    assert since == [f"方向 {n} (案 {n})" for n in (28, 29, 30)]
    assert len(decoded) == 6  # not the 24 older batches the statement also read

    assert recent_directions_split(theme=theme, limit=3, since=28) == (before, since)
    assert len(decoded) == 6  # remembered

    Iteration.objects.filter(theme=theme, number=26).update(
        parsed={"direction": "変更", "ideas": []}
    )
    before, _ = recent_directions_split(theme=theme, limit=3, since=28)
    assert before[1] == "変更 ()"
    assert len(decoded) == 7
