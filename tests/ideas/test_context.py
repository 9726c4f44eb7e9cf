"""context_build: a stable developer message, bounded per-task data, constant queries."""

from __future__ import annotations

import hashlib
import random

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from bizagent.llm.harmony import harmony_token_count
from ideas.context import ContextBudgetError, RoleContext, context_build, developer_text_render
from ideas.models import Idea, Tag
from ideas.services import idea_scores_set
from tests.ideas.factories import IdeaFactory, ThemeFactory

pytestmark = pytest.mark.django_db

BUDGET = 6000
# Queries of one context_build, whatever the portfolio's size: profile, focus tags,
# focus links, focus tag ids, linked ideas, tag overlap, top priority, the chosen rows
# and their tags.
MAX_QUERIES = 10


def _portfolio(theme, n: int, *, tags: int = 60, seed: int = 1) -> list[Tag]:
    """``n`` ideas with two tags each and varied scores, inserted in bulk."""
    rng = random.Random(seed)
    tag_rows = Tag.objects.bulk_create([Tag(theme=theme, name=f"t{i}") for i in range(tags)])
    ideas = []
    for i in range(n):
        title = f"Mochiusa idea {i}: {rng.choice(['mug', 'plush', 'sticker', 'café', 'workshop'])}"
        fit, novelty, feasibility = (round(rng.uniform(0, 10), 1) for _ in range(3))
        ideas.append(
            Idea(
                theme=theme,
                title=title,
                summary=f"月見だんごと一緒に楽しむ {title} — a calm, seasonal product. " * 2,
                target_audience="Working women in their 20s and 30s",
                value_proposition="A small reward after a long day",
                revenue_model="BASE store, ¥1,500–¥4,000",
                brand_fit=fit,
                novelty=novelty,
                feasibility=feasibility,
                priority=round(0.4 * fit + 0.3 * novelty + 0.3 * feasibility, 4),
                fingerprint=hashlib.sha256(title.encode()).hexdigest(),
            )
        )
    Idea.objects.bulk_create(ideas, batch_size=5000)
    ids = list(Idea.objects.filter(theme=theme).values_list("pk", flat=True))
    through = Idea.tags.through
    rows = []
    for pk in ids:
        a, b = rng.sample(tag_rows, 2)
        rows += [through(idea_id=pk, tag_id=a.pk), through(idea_id=pk, tag_id=b.pk)]
    through.objects.bulk_create(rows, batch_size=10000)
    return tag_rows


def _focus(theme, n: int = 3) -> list[Idea]:
    return list(Idea.objects.filter(theme=theme).order_by("pk")[:n])


def test_the_developer_text_is_the_ip_spec_and_the_config(theme):
    text = developer_text_render(theme)
    assert text.startswith("# IP Spec\n\n{")
    assert "\n\n# Project Config\n\n{" in text
    assert "月見だんご" in text  # real Unicode, not \\u escapes


def test_the_developer_text_is_byte_identical_across_calls_roles_and_focus(theme):
    IdeaFactory.create_batch(5, theme=theme, tags=["seasonal"])
    ideas = list(Idea.objects.all())
    contexts = [
        context_build(theme=theme, role="ideator", focus_ideas=[], token_budget=BUDGET),
        context_build(theme=theme, role="ideator", focus_ideas=ideas[:1], token_budget=BUDGET),
        context_build(theme=theme, role="critic", focus_ideas=ideas[2:4], token_budget=BUDGET),
        context_build(theme=theme, role="planner", focus_ideas=ideas, token_budget=BUDGET),
    ]
    texts = {c.developer_text.encode("utf-8") for c in contexts}
    assert len(texts) == 1
    assert contexts[1].ideas_text != contexts[2].ideas_text


def test_the_developer_text_does_not_depend_on_key_order_in_the_stored_config():
    a = ThemeFactory(status="archived")
    reordered = dict(reversed(list(a.config.items())))
    b = ThemeFactory(status="archived", ip_profile=a.ip_profile, config=reordered)
    assert developer_text_render(a) == developer_text_render(b)


def test_focus_ideas_come_in_full_and_others_as_summaries(theme):
    focus = IdeaFactory(theme=theme, title="Moon mug", tags=["seasonal", "mug"])
    linked = IdeaFactory(theme=theme, title="Dango coaster")
    focus.related.add(linked)
    sharing = IdeaFactory(theme=theme, title="Sakura mug", tags=["mug"])
    unrelated = IdeaFactory(theme=theme, title="Newsletter", tags=["digital"])
    archived = IdeaFactory(theme=theme, title="Old idea", status=Idea.Status.ARCHIVED)
    context = context_build(theme=theme, role="critic", focus_ideas=[focus], token_budget=BUDGET)
    assert context.full_idea_ids == (focus.pk,)
    assert context.summary_idea_ids[:2] == (linked.pk, sharing.pk)
    assert unrelated.pk in context.summary_idea_ids
    assert archived.pk not in context.summary_idea_ids
    assert f"### [#{focus.pk}] Moon mug" in context.ideas_text
    assert f"related: #{linked.pk}" in context.ideas_text
    assert f"- [#{sharing.pk}] Sakura mug" in context.ideas_text


def test_human_corrections_are_shown_as_such(theme):
    idea = IdeaFactory(theme=theme, brand_fit=4.0, human_brand_fit=9.0)
    context = context_build(theme=theme, role="critic", focus_ideas=[idea], token_budget=BUDGET)
    assert "brand_fit 9 (human)" in context.ideas_text


def test_the_token_count_is_exact_and_within_budget(theme):
    _portfolio(theme, 200)
    budget = harmony_token_count(developer_text_render(theme)) + 800
    context = context_build(
        theme=theme, role="ideator", focus_ideas=_focus(theme), token_budget=budget
    )
    assert context.token_count <= budget
    assert context.token_count == harmony_token_count(context.developer_text) + harmony_token_count(
        context.ideas_text
    )
    assert 0 < len(context.summary_idea_ids) < 40  # the budget, not the LIMIT, stopped it


def test_a_focus_idea_too_big_for_the_budget_falls_back_to_its_summary(theme):
    big = IdeaFactory(theme=theme, value_proposition="calm tea " * 2000)
    budget = harmony_token_count(developer_text_render(theme)) + 300
    context = context_build(theme=theme, role="editor", focus_ideas=[big], token_budget=budget)
    assert context.full_idea_ids == ()
    assert context.summary_idea_ids[0] == big.pk
    assert context.token_count <= budget


def test_a_budget_below_the_brand_is_an_error(theme):
    with pytest.raises(ContextBudgetError, match="smaller than the IP spec"):
        context_build(theme=theme, role="ideator", focus_ideas=[], token_budget=100)


def test_the_prompt_is_bounded_at_10_ideas(theme, django_assert_max_num_queries):
    _portfolio(theme, 10)
    with django_assert_max_num_queries(MAX_QUERIES):
        context = context_build(
            theme=theme, role="ideator", focus_ideas=_focus(theme), token_budget=BUDGET
        )
    assert context.token_count <= BUDGET
    assert len(context.full_idea_ids) == 3
    assert len(context.summary_idea_ids) == 7


def _context_queries(theme, ideas: int) -> tuple[int, RoleContext]:
    """Queries and result of one context_build on a portfolio of ``ideas``, rolled back."""
    with transaction.atomic():
        _portfolio(theme, ideas)
        assert Idea.objects.filter(theme=theme).count() == ideas
        focus = _focus(theme)
        with CaptureQueriesContext(connection) as captured:
            context = context_build(
                theme=theme, role="ideator", focus_ideas=focus, token_budget=BUDGET
            )
        transaction.set_rollback(True)
    return len(captured), context


def test_the_queries_are_the_same_at_500_and_5000_ideas(theme):
    small_queries, small = _context_queries(theme, 500)
    large_queries, large = _context_queries(theme, 5_000)
    assert large_queries == small_queries <= MAX_QUERIES
    for context in (small, large):
        assert context.token_count <= BUDGET
        assert len(context.full_idea_ids) == 3
        assert len(context.summary_idea_ids) <= 40
    # The same developer text as on a small portfolio: size never leaks into the prefix.
    assert large.developer_text == small.developer_text == developer_text_render(theme)


def test_the_developer_text_is_counted_once_while_the_theme_stays(theme, monkeypatch):
    import ideas.context

    counted: list[str] = []
    original = ideas.context.harmony_token_count

    def counting(text: str) -> int:
        counted.append(text)
        return original(text)

    monkeypatch.setattr(ideas.context, "harmony_token_count", counting)
    developer_text = developer_text_render(theme) + "\n"  # a text no other test counted
    monkeypatch.setattr(ideas.context, "developer_text_render", lambda theme: developer_text)
    contexts = [
        context_build(theme=theme, role=role, focus_ideas=[], token_budget=BUDGET)
        for role in ("planner", "ideator", "critic", "editor")
    ]
    assert counted.count(developer_text) == 1
    assert {c.developer_token_count for c in contexts} == {original(developer_text)}


def test_the_task_ideas_per_epoch_stay_the_same_bytes_and_changes_come_apart(theme):
    """``focus_per_epoch``: the epoch's first call renders the task's ideas; the next
    calls of the epoch reuse those bytes (fewer queries) and get what changed since, a
    new score or a new idea at the top, in ``changes_text``."""
    ideas = [IdeaFactory(theme=theme, brand_fit=5.0, tags=["mug"]) for _ in range(4)]

    def build(focus):
        with CaptureQueriesContext(connection) as seen:
            built = context_build(
                theme=theme,
                role="planner",
                focus_ideas=focus,
                token_budget=BUDGET,
                epoch=3,
                focus_per_epoch=True,
            )
        return built, len(seen)

    first, first_queries = build(ideas[:3])
    assert first.changes_text == ""
    idea_scores_set(idea=ideas[0], scores={"brand_fit": 9.0}, iteration_id=2)
    later, later_queries = build([ideas[0], ideas[3], ideas[1]])
    assert later.ideas_text == first.ideas_text
    assert later.full_idea_ids == first.full_idea_ids
    lines = later.changes_text.splitlines()
    assert lines[0].startswith("## Changes since")
    assert any(f"[#{ideas[0].pk}] now candidate; brand_fit 9" in line for line in lines)
    assert any(f"[#{ideas[3].pk}] new: {ideas[3].title}" in line for line in lines)
    assert later_queries < first_queries
    assert later.token_count <= BUDGET


def test_summaries_show_the_scores_in_the_short_form_the_ground_rules_name(theme):
    """Summaries end with ``(brand_fit/novelty/feasibility)``, the form the roles' ground
    rules describe, about eight tokens less per line than the named form: the related
    ideas are the per-call tail of the critic's and the editor's prompts."""
    from goals.roles.base import COMMON_RULES

    focus = IdeaFactory(theme=theme, title="Moon mug", tags=["mug"])
    scored = IdeaFactory(theme=theme, title="Sakura mug", tags=["mug"])
    corrected = IdeaFactory(theme=theme, title="Tea mug", tags=["mug"])
    Idea.objects.filter(pk=scored.pk).update(brand_fit=8.0, novelty=6.5, feasibility=7.0)
    Idea.objects.filter(pk=corrected.pk).update(
        brand_fit=4.0, human_brand_fit=9.0, novelty=None, feasibility=5.0
    )
    context = context_build(theme=theme, role="critic", focus_ideas=[focus], token_budget=BUDGET)
    lines = context.ideas_text.splitlines()
    assert "`[#ID] Title — summary (brand_fit/novelty/feasibility)`" in COMMON_RULES
    assert next(line for line in lines if f"[#{scored.pk}]" in line).endswith("(8/6.5/7)")
    assert next(line for line in lines if f"[#{corrected.pk}]" in line).endswith("(9 human/?/5)")


def test_the_token_count_is_exact_beside_the_portfolio_block(theme):
    """With an epoch the count is the block's remembered count plus the task's part
    (``harmony_token_count_lines``): the same number as counting the whole text."""
    _portfolio(theme, 120)
    for epoch, role in ((1, "critic"), (1, "editor"), (2, "ideator")):
        context = context_build(
            theme=theme, role=role, focus_ideas=_focus(theme), token_budget=BUDGET, epoch=epoch
        )
        assert context.portfolio_idea_ids
        assert context.token_count == harmony_token_count(
            context.developer_text
        ) + harmony_token_count(context.ideas_text)


def test_a_new_idea_in_full_says_it_has_none_yet(theme):
    """A focus idea nobody scored says ``scores: none yet`` (the critic's new ideas, in the
    per-call tail); one with any score lists all three, ``?`` for the missing ones."""
    new = IdeaFactory(theme=theme, title="Moon mug", brand_fit=None, novelty=None)
    Idea.objects.filter(pk=new.pk).update(brand_fit=None, novelty=None, feasibility=None)
    half = IdeaFactory(theme=theme, title="Tea mug")
    Idea.objects.filter(pk=half.pk).update(brand_fit=6.0, novelty=None, feasibility=None)
    context = context_build(
        theme=theme,
        role="critic",
        focus_ideas=list(Idea.objects.filter(pk__in=[new.pk, half.pk]).order_by("pk")),
        token_budget=BUDGET,
    )
    assert "; scores: none yet\n" in context.ideas_text
    assert "scores: brand_fit 6, novelty ?, feasibility ?" in context.ideas_text
    assert context.ideas_text.count("none yet") == 1


def test_a_later_call_of_the_epoch_encodes_nothing_it_encoded_before(theme, monkeypatch):
    """Within an epoch, the portfolio block, the kept task block and the repeated idea
    renderings are counted once: a later call with nothing changed encodes no text, and
    one with a re-scored focus idea encodes only the texts that changed."""
    _portfolio(theme, 120)
    encoded = _encoded_texts(monkeypatch)

    def build(role: str, focus: list[Idea], **kwargs) -> RoleContext:
        return context_build(
            theme=theme, role=role, focus_ideas=focus, token_budget=BUDGET, epoch=9, **kwargs
        )

    top = list(Idea.objects.filter(theme=theme).order_by("-priority", "-updated_at", "-pk")[:3])
    focus = _focus(theme)
    first = (build("planner", top, focus_per_epoch=True), build("critic", focus))
    assert encoded  # the epoch's first calls counted their texts
    encoded.clear()
    again = (build("planner", top, focus_per_epoch=True), build("critic", focus))
    assert encoded == []
    assert [c.token_count for c in again] == [c.token_count for c in first]
    idea_scores_set(idea=focus[0], scores={"brand_fit": 0.5}, iteration_id=3)
    focus = _focus(theme)
    critic = build("critic", focus)
    # Only what shows the re-scored idea: its entry, and the task's text it is part of.
    assert encoded and all(f"[#{focus[0].pk}]" in text for text in encoded)
    assert critic.token_count <= BUDGET


def _reference_developer_text(theme) -> str:
    """The developer text as it was rendered before it was remembered: two dumps."""
    import json

    def block(document: object) -> str:
        return json.dumps(document, sort_keys=True, ensure_ascii=False, indent=2)

    return (
        "# IP Spec\n\n"
        + block(theme.ip_profile.as_document())
        + "\n\n# Project Config\n\n"
        + block(theme.config)
    )


def _random_json(rng: random.Random, depth: int = 0) -> object:
    kinds = ["str", "int", "float", "bool", "none"] + (["list", "dict"] if depth < 3 else [])
    kind = rng.choice(kinds)
    if kind == "str":
        return rng.choice(["", "a", "月見", "x\ny", '"q"', "1", "true"]) + str(rng.randint(0, 3))
    if kind == "int":
        return rng.randint(-3, 3)
    if kind == "float":
        return rng.choice([0.5, 1.0, -2.25, 1e21, 0.1])
    if kind == "bool":
        return rng.choice([True, False])
    if kind == "none":
        return None
    if kind == "list":
        return [_random_json(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    return {f"k{rng.randint(0, 5)}": _random_json(rng, depth + 1) for _ in range(rng.randint(0, 4))}


def test_the_remembered_developer_text_is_byte_identical_to_the_dumps_for_random_configs(theme):
    rng = random.Random(8)
    for _ in range(300):
        theme.config = {"loop": _random_json(rng), "more": _random_json(rng)}
        theme.ip_profile.canon_examples = [_random_json(rng)]
        first = developer_text_render(theme)
        assert first == _reference_developer_text(theme)
        assert developer_text_render(theme) == first  # the remembered text, same bytes


def test_a_config_or_profile_changed_in_place_gets_a_new_developer_text(theme):
    before = developer_text_render(theme)
    # Values that look alike as JSON-ish text but differ as values: 1 and True, 1 and 1.0.
    theme.config["budget_note"] = 1
    with_int = developer_text_render(theme)
    theme.config["budget_note"] = True
    with_true = developer_text_render(theme)
    theme.config["budget_note"] = 1.0
    with_float = developer_text_render(theme)
    theme.ip_profile.essence = theme.ip_profile.essence + " Always calm."
    with_essence = developer_text_render(theme)
    assert len({before, with_int, with_true, with_float, with_essence}) == 5
    assert '"budget_note": true' in with_true and '"budget_note": 1.0' in with_float
    assert with_essence == _reference_developer_text(theme)
    assert "Always calm." in with_essence


def _encoded_texts(monkeypatch) -> list[str]:
    """Every text encoded from now on (the counts remembered before stay remembered)."""
    import bizagent.llm.harmony

    encoded: list[str] = []
    original = bizagent.llm.harmony.harmony_text_encode

    def encode(text: str) -> list[int]:
        encoded.append(text)
        return original(text)

    monkeypatch.setattr(bizagent.llm.harmony, "harmony_text_encode", encode)
    return encoded


def test_a_re_scored_focus_idea_is_encoded_once(theme, monkeypatch):
    """A call whose focus idea was re-scored encodes that idea's new rendering once: its
    count beside the next part is that count plus the newline's token, not a second
    encoding of the same text with a newline after it."""
    harmony_token_count.cache_clear()  # another test may have counted the same texts
    _portfolio(theme, 120)
    focus = _focus(theme)
    context_build(theme=theme, role="critic", focus_ideas=focus, token_budget=BUDGET, epoch=4)
    idea_scores_set(idea=focus[0], scores={"brand_fit": 0.5}, iteration_id=3)
    encoded = _encoded_texts(monkeypatch)
    context = context_build(
        theme=theme, role="critic", focus_ideas=_focus(theme), token_budget=BUDGET, epoch=4
    )
    assert any(text.endswith("¥1,500–¥4,000") for text in encoded)  # the new rendering
    assert not [text for text in encoded if text.endswith("\n") and text[:-1] in encoded]
    assert context.token_count == harmony_token_count(context.developer_text) + harmony_token_count(
        context.ideas_text
    )


def test_a_new_epochs_block_encodes_only_its_new_lines(theme, monkeypatch):
    """The next epoch's portfolio block, with one new idea at the top, is counted from
    its lines: the new line is encoded, the block's whole text is not, and the count is
    still the whole text's."""
    from ideas.context import PORTFOLIO_HEADING

    harmony_token_count.cache_clear()  # another test may have counted the same texts
    _portfolio(theme, 120)
    focus = _focus(theme)
    context_build(theme=theme, role="critic", focus_ideas=focus, token_budget=BUDGET, epoch=1)
    top = IdeaFactory(theme=theme, title="Moonlit tea set", priority=99.0)
    Idea.objects.filter(pk=top.pk).update(priority=99.0)
    encoded = _encoded_texts(monkeypatch)
    context = context_build(
        theme=theme, role="critic", focus_ideas=focus, token_budget=BUDGET, epoch=2
    )
    assert context.portfolio_idea_ids[0] == top.pk
    assert any(f"[#{top.pk}] Moonlit tea set" in text for text in encoded)
    assert not [text for text in encoded if text.startswith(PORTFOLIO_HEADING + "\n")]
    assert context.token_count == harmony_token_count(context.developer_text) + harmony_token_count(
        context.ideas_text
    )
