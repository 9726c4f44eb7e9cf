"""The bounded context of one model call.

Two parts, because they behave differently:

- ``developer_text``: ``# IP Spec`` and ``# Project Config``, rendered from the stored
  documents with sorted keys and fixed formatting. It depends on the theme alone, so it
  is byte-identical across every call of every role for that theme and the server's
  prefix cache keeps it.
- ``ideas_text``: the per-task data that goes last — the focus ideas in full, then
  short summaries of other ideas chosen by SQL (links, shared tags, priority) with a
  LIMIT. It never reads the whole portfolio, so its size and its query count are the
  same with 10 ideas and with 100,000.

Both together stay within ``token_budget`` tokens of the o200k vocab.
"""

from __future__ import annotations

import functools
import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from bizagent.llm.harmony import harmony_token_count
from ideas.models import SCORE_FIELDS, Idea, Theme
from ideas.selectors import idea_context_candidates

# At most this many other ideas are fetched to summarise; the budget may fit fewer.
CANDIDATE_LIMIT = 40
SUMMARY_CHARS = 160


class ContextBudgetError(ValueError):
    """The budget cannot even hold the IP spec and the project config."""


@dataclass(frozen=True)
class RoleContext:
    role: str
    developer_text: str
    ideas_text: str
    token_count: int
    developer_token_count: int
    full_idea_ids: tuple[int, ...] = ()
    summary_idea_ids: tuple[int, ...] = ()
    omitted_focus_ids: tuple[int, ...] = field(default=())


def _json_block(document: object) -> str:
    return json.dumps(document, sort_keys=True, ensure_ascii=False, indent=2)


def developer_text_render(theme: Theme) -> str:
    """``# IP Spec`` and ``# Project Config``: the same bytes for the same theme."""
    return (
        "# IP Spec\n\n"
        + _json_block(theme.ip_profile.as_document())
        + "\n\n# Project Config\n\n"
        + _json_block(theme.config)
    )


@functools.lru_cache(maxsize=16)
def _developer_token_count(developer_text: str) -> int:
    # The developer text is the same for every call of every role while the theme stays
    # (~1,750 tokens): count it once per distinct text, not once per iteration.
    return harmony_token_count(developer_text)


def _scores_line(idea: Idea) -> str:
    parts = []
    for name in SCORE_FIELDS:
        value = getattr(idea, f"effective_{name}")
        text = "?" if value is None else f"{value:g}"
        if getattr(idea, f"human_{name}") is not None:
            text += " (human)"
        parts.append(f"{name} {text}")
    return ", ".join(parts)


def idea_full_render(idea: Idea, *, tags: Sequence[str], related: Sequence[int]) -> str:
    lines = [
        f"### [#{idea.pk}] {idea.title}",
        f"status: {idea.status}; tags: {', '.join(tags) or '-'}; scores: {_scores_line(idea)}",
        f"summary: {idea.summary}",
        f"target audience: {idea.target_audience}",
        f"value proposition: {idea.value_proposition}",
        f"revenue model: {idea.revenue_model}",
    ]
    if related:
        lines.append("related: " + ", ".join(f"#{pk}" for pk in related))
    return "\n".join(lines)


def idea_summary_render(idea: Idea, *, tags: Sequence[str]) -> str:
    summary = (
        idea.summary if len(idea.summary) <= SUMMARY_CHARS else idea.summary[:SUMMARY_CHARS] + "…"
    )
    tag_text = f" [{', '.join(tags)}]" if tags else ""
    return f"- [#{idea.pk}] {idea.title} — {summary}{tag_text} ({_scores_line(idea)})"


def _focus_details(ideas: Sequence[Idea]) -> tuple[dict[int, list[str]], dict[int, list[int]]]:
    """Tags and links of the focus ideas in two queries, whatever the caller prefetched."""
    ids = [idea.pk for idea in ideas]
    tags: dict[int, list[str]] = defaultdict(list)
    related: dict[int, list[int]] = defaultdict(list)
    if not ids:
        return tags, related
    for idea_id, name in (
        Idea.tags.through.objects.filter(idea_id__in=ids)
        .values_list("idea_id", "tag__name")
        .order_by("idea_id", "tag__name")
    ):
        tags[idea_id].append(name)
    for from_id, to_id in (
        Idea.related.through.objects.filter(from_idea_id__in=ids)
        .values_list("from_idea_id", "to_idea_id")
        .order_by("from_idea_id", "to_idea_id")[:2000]
    ):
        related[from_id].append(to_id)
    return tags, related


def context_build(
    *, theme: Theme, role: str, focus_ideas: Sequence[Idea], token_budget: int
) -> RoleContext:
    """The context for one call of ``role`` about ``focus_ideas``, within ``token_budget``.

    Focus ideas come in full while they fit, then as summaries; other ideas fill what is
    left as one-line summaries. Raises ``ContextBudgetError`` when the budget cannot
    hold the developer text itself (the IP spec is never cut: it is the brand).
    """
    developer_text = developer_text_render(theme)
    developer_tokens = _developer_token_count(developer_text)
    remaining = token_budget - developer_tokens
    if remaining < 0:
        raise ContextBudgetError(
            f"the token budget {token_budget} is smaller than the IP spec and project config "
            f"({developer_tokens} tokens); raise the budget or shorten the theme files"
        )
    focus = list(dict.fromkeys(focus_ideas))
    tags, related = _focus_details(focus)
    # Each part is counted on its own; the newline that joins parts costs at most one
    # token each, which the +1 accounts for. The final text is counted again below.
    parts: list[str] = []
    full_ids: list[int] = []
    summary_ids: list[int] = []
    omitted: list[int] = []

    def fits(text: str) -> bool:
        nonlocal remaining
        cost = harmony_token_count(text) + 1
        if cost > remaining:
            return False
        remaining -= cost
        parts.append(text)
        return True

    if focus and fits("## Ideas in focus"):
        for idea in focus:
            if fits(idea_full_render(idea, tags=tags[idea.pk], related=related[idea.pk])):
                full_ids.append(idea.pk)
            elif fits(idea_summary_render(idea, tags=tags[idea.pk])):
                summary_ids.append(idea.pk)
            else:
                omitted.append(idea.pk)
    candidates = idea_context_candidates(theme=theme, focus_ideas=focus, limit=CANDIDATE_LIMIT)
    if candidates and fits("## Other ideas (summaries)"):
        for idea in candidates:
            if not fits(idea_summary_render(idea, tags=idea.tag_names)):
                break
            summary_ids.append(idea.pk)
    ideas_text = "\n".join(parts)
    ideas_tokens = harmony_token_count(ideas_text) if ideas_text else 0
    while parts and developer_tokens + ideas_tokens > token_budget:  # pragma: no cover
        parts.pop()  # tokenisation across the joins came out larger than the parts' sum
        ideas_text = "\n".join(parts)
        ideas_tokens = harmony_token_count(ideas_text) if ideas_text else 0
    return RoleContext(
        role=role,
        developer_text=developer_text,
        ideas_text=ideas_text,
        token_count=developer_tokens + ideas_tokens,
        developer_token_count=developer_tokens,
        full_idea_ids=tuple(full_ids),
        summary_idea_ids=tuple(summary_ids),
        omitted_focus_ids=tuple(omitted),
    )
