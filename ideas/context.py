"""The bounded context of one model call.

Two parts, because they behave differently:

- ``developer_text``: ``# IP Spec`` and ``# Project Config``, rendered from the stored
  documents with sorted keys and fixed formatting. It depends on the theme alone, so it
  is byte-identical across every call of every role for that theme and the server's
  prefix cache keeps it.
- ``ideas_text``: the ideas. Given an ``epoch``, it opens with the *portfolio block*
  (``## Portfolio``: the best ideas by priority, one line each, no scores), rendered
  once per theme and epoch and kept in the shared cache, so every call of every worker
  in that epoch starts its user message with the same bytes; then what belongs to the
  task: the focus ideas in full with their current scores, then short summaries of the
  ideas related to them (links, shared tags) that the block does not already show.
  Without an epoch there is no block and other ideas are summarised by SQL (links,
  shared tags, priority) with a LIMIT. Either way it never reads the whole portfolio,
  so its size and its query count are the same with 10 ideas and with 100,000.

Both together stay within ``token_budget`` tokens of the o200k vocab.
"""

from __future__ import annotations

import functools
import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from bizagent.llm.harmony import (
    harmony_token_count,
    harmony_token_count_lines,
    splits_after_newline,
)
from bizagent.sql import column, placeholders, rows_fetch, statement, table
from ideas.models import SCORE_FIELDS, Idea, Tag, Theme
from ideas.selectors import (
    epoch_memo,
    idea_context_candidate_ids,
    ideas_shown_named,
    priority_idea_lines,
    tag_names_of,
)

# At most this many other ideas are fetched to summarise; the budget may fit fewer.
CANDIDATE_LIMIT = 40
SUMMARY_CHARS = 160
#: The portfolio block shows at most this many of the best ideas...
PORTFOLIO_IDEAS = 80
#: ...in at most this share of the budget left after the developer text, so the task's
#: own ideas always keep the rest.
PORTFOLIO_BUDGET_SHARE = 0.6
#: With a portfolio block, this many related ideas are summarised next to the focus.
RELATED_LIMIT = 6
#: At most this many links of the focus ideas are read (their targets are only listed).
FOCUS_LINKS_LIMIT = 2000
#: A block outlives its epoch only by this much: an epoch is a few iterations long.
PORTFOLIO_CACHE_SECONDS = 24 * 3600

PORTFOLIO_HEADING = "## Portfolio (the best ideas; refreshed every few iterations)"
FOCUS_HEADING = "## Ideas in focus"
OTHER_IDEAS_HEADING = "## Other ideas (summaries)"
RELATED_HEADING = "## Related ideas (summaries)"
CHANGES_HEADING = "## Changes since the ideas above were listed"


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
    #: The ideas of the portfolio block that opens ``ideas_text`` (none without an epoch).
    portfolio_idea_ids: tuple[int, ...] = ()
    #: With ``focus_per_epoch``: what changed since the epoch's task ideas were rendered
    #: (``CHANGES_HEADING`` and its lines), kept out of ``ideas_text`` so the caller can
    #: put it late, after the parts consecutive calls share. Empty when nothing changed.
    changes_text: str = ""


def _json_block(document: object) -> str:
    return json.dumps(document, sort_keys=True, ensure_ascii=False, indent=2)


#: How many distinct developer texts a process remembers (a theme or two at a time).
DEVELOPER_TEXTS_KEPT = 16
_developer_texts: dict[tuple[str, str], str] = {}


def developer_text_render(theme: Theme) -> str:
    """``# IP Spec`` and ``# Project Config``: the same bytes for the same theme.

    Remembered per content: ``indent=2`` takes ``json``'s pure-Python encoder, about
    seven times the cost of ``repr`` (written in C), and the text is the same on every
    call while the theme stays. The key is the two documents' ``repr``, taken afresh on
    every call: for the JSON values they hold (dicts, lists, strings, numbers, booleans,
    None) equal reprs mean equal documents, so an edited profile or config, even one
    changed in place without a save, is a new key and a new rendering, never a stale
    text; the same content in another key order is a new key too, rendered to the
    same bytes (``sort_keys``).
    """
    profile = theme.ip_profile.as_document()
    config = theme.config
    key = (repr(profile), repr(config))
    text = _developer_texts.get(key)
    if text is None:
        text = (
            "# IP Spec\n\n"
            + _json_block(profile)
            + "\n\n# Project Config\n\n"
            + _json_block(config)
        )
        if len(_developer_texts) >= DEVELOPER_TEXTS_KEPT:
            _developer_texts.clear()  # a handful of themes: starting over costs one render
        _developer_texts[key] = text
    return text


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


def _has_scores(idea: Idea) -> bool:
    return any(getattr(idea, f"effective_{name}") is not None for name in SCORE_FIELDS)


def idea_full_render(
    idea: Idea, *, tags: Sequence[str], related: Sequence[int], in_block: bool = False
) -> str:
    """An idea in full. ``in_block``: the portfolio block above shows the idea's line as it
    is now (``idea_line_render``: title, whole summary, tags), so the entry points there
    instead of repeating them: the model reads them once, and what the entry adds (status,
    scores, audience, value, revenue, links) is all that differs between calls."""
    if in_block:
        lines = [
            f"### [#{idea.pk}] (title, summary, tags: as in the portfolio above)",
            f"status: {idea.status}; scores: {_scores_line(idea)}",
        ]
    else:
        # A new idea has no scores yet: said in three tokens rather than "brand_fit ?,
        # novelty ?, feasibility ?" (twelve), in the critic's per-call tail (issue 8).
        scores = _scores_line(idea) if _has_scores(idea) else "none yet"
        lines = [
            f"### [#{idea.pk}] {idea.title}",
            f"status: {idea.status}; tags: {', '.join(tags) or '-'}; scores: {scores}",
            f"summary: {idea.summary}",
        ]
    lines += [
        f"target audience: {idea.target_audience}",
        f"value proposition: {idea.value_proposition}",
        f"revenue model: {idea.revenue_model}",
    ]
    if related:
        lines.append("related: " + ", ".join(f"#{pk}" for pk in related))
    return "\n".join(lines)


def _scores_short(idea: Idea) -> str:
    """``8/6/7``: the scores in ``SCORE_FIELDS`` order, ``?`` for none, ``9 human`` for a
    person's, as the role's ground rules describe summaries
    (``(brand_fit/novelty/feasibility)``)."""
    parts = []
    for name in SCORE_FIELDS:
        value = getattr(idea, f"effective_{name}")
        text = "?" if value is None else f"{value:g}"
        if getattr(idea, f"human_{name}") is not None:
            text += " human"
        parts.append(text)
    return "/".join(parts)


def idea_summary_render(idea: Idea, *, tags: Sequence[str]) -> str:
    """One summary line, scores in the short form the ground rules name: the related
    ideas are the per-call tail of the critic's and the editor's prompts, so each token
    saved there (about eight per line against the named form) is one less token that no
    call shares with the one before."""
    summary = (
        idea.summary if len(idea.summary) <= SUMMARY_CHARS else idea.summary[:SUMMARY_CHARS] + "…"
    )
    tag_text = f" [{', '.join(tags)}]" if tags else ""
    return f"- [#{idea.pk}] {idea.title} — {summary}{tag_text} ({_scores_short(idea)})"


@dataclass
class _FocusDetails:
    """The focus ideas' tag names and link targets, per idea, and their tag ids."""

    tags: dict[int, list[str]] = field(default_factory=lambda: defaultdict(list))
    related: dict[int, list[int]] = field(default_factory=lambda: defaultdict(list))
    tag_ids: list[int] = field(default_factory=list)

    @property
    def links(self) -> list[int]:
        return [target for targets in self.related.values() for target in targets]


@statement
def _focus_details_sql() -> str:
    """The one statement of ``_focus_details`` with an ``{ids}`` slot for the placeholders.

    Built from the models' table and column names once per process."""
    tags = Idea.tags.through
    links = Idea.related.through
    t_idea, t_tag = column(tags, "idea"), column(tags, "tag")
    r_from, r_to = column(links, "from_idea"), column(links, "to_idea")
    # Tags (kind 0) by idea and name, then links (kind 1) by idea and target, at most
    # ``FOCUS_LINKS_LIMIT`` of them, as the two ORM queries it replaces returned them.
    return (
        f"SELECT 0, it.{t_idea}, it.{t_tag}, t.{column(Tag, 'name')} "  # noqa: S608 - names from model metadata, ids are parameters
        f"FROM {table(tags)} it JOIN {table(Tag)} t "
        f"ON t.{column(Tag, 'id')} = it.{t_tag} WHERE it.{t_idea} IN ({{ids}}) "
        "UNION ALL SELECT * FROM ("
        f"SELECT 1, r.{r_from}, r.{r_to}, NULL FROM {table(links)} r "
        f"WHERE r.{r_from} IN ({{ids}}) ORDER BY r.{r_from}, r.{r_to} "
        f"LIMIT {FOCUS_LINKS_LIMIT}) links ORDER BY 1, 2, 4, 3"
    )


def _focus_details(ideas: Sequence[Idea]) -> _FocusDetails:
    """Tags and links of the focus ideas in one statement, whatever the caller prefetched
    (the related ideas' choice reuses them: ``idea_context_candidate_ids``).

    Plain SQL on purpose: it runs on every model call, and building and compiling the
    two ORM queries it replaces cost more than reading their few rows (issue 8)."""
    ids = [idea.pk for idea in ideas]
    details = _FocusDetails()
    tags, related = details.tags, details.related
    if not ids:
        return details
    slots = placeholders(len(ids))
    sql = _focus_details_sql().format(ids=slots)
    for kind, idea_id, other_id, name in rows_fetch(sql, [*ids, *ids]):
        if kind == 0:
            tags[idea_id].append(name)
            details.tag_ids.append(other_id)
        else:
            related[idea_id].append(other_id)
    return details


def idea_line_render(idea: Idea, *, tags: Sequence[str]) -> str:
    """One line of the portfolio block: what the idea is, without its fast-moving scores."""
    return _line_text(idea.pk, idea.title, idea.summary, tags)


def _line_text(pk: int, title: str, summary: str, tags: Sequence[str]) -> str:
    """``idea_line_render`` from the three values it prints (the block's lines are
    rendered from plain rows, the focus ideas' from their models: the same bytes)."""
    if len(summary) > SUMMARY_CHARS:
        summary = summary[:SUMMARY_CHARS] + "…"
    tag_text = f" [{', '.join(tags)}]" if tags else ""
    return f"- [#{pk}] {title} — {summary}{tag_text}"


@dataclass(frozen=True)
class PortfolioBlock:
    text: str
    idea_ids: tuple[int, ...]
    token_count: int


def _portfolio_block_render(*, theme: Theme, token_cap: int) -> PortfolioBlock:
    lines: list[str] = []
    ids: list[int] = []
    tokens = harmony_token_count(PORTFOLIO_HEADING)
    # Plain values, no models: the block prints the id, title, summary and tag names
    # alone, and building 80 ideas (and their prefetched tags) cost more than the rest
    # of the block.
    rows = priority_idea_lines(theme=theme, limit=PORTFOLIO_IDEAS)
    names = tag_names_of(idea_ids=[pk for pk, _, _ in rows])
    for pk, title, summary in rows:
        line = _line_text(pk, title, summary, names[pk])
        cost = harmony_token_count(line) + 1  # and the newline before it
        if tokens + cost > token_cap:
            break
        tokens += cost
        lines.append(line)
        ids.append(pk)
    if not lines:
        return PortfolioBlock(text="", idea_ids=(), token_count=0)
    text = "\n".join([PORTFOLIO_HEADING, *lines])
    # Counted from the lines (``harmony_token_count_lines``), not as one new text of ~3,000
    # tokens: most lines are the previous epoch's, already counted.
    count = harmony_token_count_lines([PORTFOLIO_HEADING, *lines])
    return PortfolioBlock(text=text, idea_ids=tuple(ids), token_count=count)


def portfolio_block_get(*, theme: Theme, epoch: int, token_cap: int) -> PortfolioBlock:
    """The portfolio block of ``theme`` for ``epoch``: the same bytes for every call in it.

    Rendered by the first caller of the epoch and kept in the shared cache (the database
    cache every process uses); ``cache.add`` lets only the first writer in, and every
    caller returns what the cache holds, so workers racing at an epoch's start agree on
    one block. A process remembers the block it read or added (``epoch_memo``), so the
    later calls of the epoch read nothing, whatever the portfolio's size.
    """
    # The creation time tells apart themes that reuse a primary key (a test database).
    key = f"ideas:portfolio:{theme.pk}:{theme.created_at.timestamp():.6f}:{epoch}:{token_cap}"
    # Remembered per process once read or added (``epoch_memo``): the later calls of the
    # epoch read no cache row.
    return epoch_memo.get_or_add(
        key,
        PortfolioBlock,
        lambda: _portfolio_block_render(theme=theme, token_cap=token_cap),
        PORTFOLIO_CACHE_SECONDS,
    )


@functools.lru_cache(maxsize=8)
def _block_line_set(text: str) -> frozenset[str]:
    return frozenset(text.split("\n")[1:])


def _block_lines(block: PortfolioBlock | None) -> frozenset[str]:
    """The block's idea lines, split once per block (the same text all epoch long)."""
    return _block_line_set(block.text) if block is not None and block.text else frozenset()


@dataclass(frozen=True)
class TaskBlock:
    """The task's ideas as rendered at the first call of an epoch (``focus_per_epoch``)."""

    texts: tuple[str, ...]
    #: The budget the texts left, and whether the portfolio block stood beside them.
    remaining: int
    full_ids: tuple[int, ...]
    summary_ids: tuple[int, ...]
    omitted: tuple[int, ...]
    with_portfolio: bool
    #: Per idea shown, its status and scores as shown: what ``_changes_render`` compares.
    shown: tuple[tuple[int, str], ...]
    #: The focus the texts were rendered for (``_task_block_fits``).
    focus_ids: tuple[int, ...] = ()


def _task_block_fits(block: TaskBlock, focus: Sequence[Idea]) -> bool:
    """Whether the epoch's rendering stands for ``focus``: the same selection, re-ranked.

    The top of the portfolio moves within an epoch (new scores, new ideas), so a later
    call's focus may lose a few of the kept ideas and gain new ones (listed under the
    changes); it is at least as long (the top only grows with the portfolio) and keeps
    at least half of them. A task that names ideas of its own (a generate building on
    #12 and #40) shares little with the top and gets its own rendering instead of the
    epoch's, so the ideas in focus are always the ones it is about.
    """
    kept = set(block.focus_ids)
    ids = {idea.pk for idea in focus}
    return len(ids) >= len(kept) and 2 * len(kept & ids) >= len(kept)


def _shown_state(idea: Idea) -> str:
    return f"{idea.status}; {_scores_line(idea)}"


def _task_block_key(theme: Theme, role: str, epoch: int, token_cap: int) -> str:
    stamp = f"{theme.created_at.timestamp():.6f}"
    return f"ideas:task:{role}:{theme.pk}:{stamp}:{epoch}:{token_cap}"


def _changes_render(block: TaskBlock, focus: Sequence[Idea]) -> list[str]:
    """One line per shown idea whose status or scores moved, then the focus ideas the
    block does not show (new at the top since it was rendered), as summaries."""
    by_pk = {idea.pk: idea for idea in focus}
    shown = dict(block.shown)
    missing = [pk for pk in shown if pk not in by_pk]
    if missing:
        by_pk.update(
            (idea.pk, idea)
            for idea in Idea.objects.filter(pk__in=missing).only(
                "pk", "status", *SCORE_FIELDS, *(f"human_{f}" for f in SCORE_FIELDS)
            )
        )
    lines = []
    for pk, was in block.shown:
        idea = by_pk.get(pk)
        now = "deleted" if idea is None else _shown_state(idea)
        if now != was:
            lines.append(f"- [#{pk}] now {now}")
    # New at the top: the title and scores, one short line each (the next epoch's block
    # shows them in full).
    lines += [
        f"- [#{idea.pk}] new: {idea.title} ({_scores_line(idea)})"
        for idea in focus
        if idea.pk not in shown
    ]
    return lines


@dataclass
class _Parts:
    """The task's share of ``ideas_text``, assembled within ``remaining`` tokens."""

    remaining: int
    texts: list[str] = field(default_factory=list)
    full_ids: list[int] = field(default_factory=list)
    summary_ids: list[int] = field(default_factory=list)
    omitted: list[int] = field(default_factory=list)
    #: The ideas shown (in full or as a summary), in order.
    shown: list[Idea] = field(default_factory=list)

    def fits(self, text: str) -> bool:
        # Each part is counted on its own; the newline that joins parts costs at most
        # one token each, which the +1 accounts for. The final text is counted again.
        cost = harmony_token_count(text) + 1
        if cost > self.remaining:
            return False
        self.remaining -= cost
        self.texts.append(text)
        return True

    def focus_add(
        self,
        focus: Sequence[Idea],
        tags: dict[int, list[str]],
        related: dict[int, list[int]],
        block: PortfolioBlock | None = None,
    ) -> None:
        if not focus or not self.fits(FOCUS_HEADING):
            return
        listed = _block_lines(block)
        for idea in focus:
            in_block = (
                len(idea.summary) <= SUMMARY_CHARS
                and idea_line_render(idea, tags=tags[idea.pk]) in listed
            )
            full = idea_full_render(
                idea, tags=tags[idea.pk], related=related[idea.pk], in_block=in_block
            )
            if self.fits(full):
                self.full_ids.append(idea.pk)
                self.shown.append(idea)
            elif self.fits(idea_summary_render(idea, tags=tags[idea.pk])):
                self.summary_ids.append(idea.pk)
                self.shown.append(idea)
            else:
                self.omitted.append(idea.pk)

    def summaries_add(
        self, heading: str, ideas: Sequence[Idea], tags: dict[int, list[str]]
    ) -> None:
        if not ideas or not self.fits(heading):
            return
        for idea in ideas:
            if not self.fits(idea_summary_render(idea, tags=tags[idea.pk])):
                break
            self.summary_ids.append(idea.pk)
            self.shown.append(idea)


def _task_parts(
    *,
    theme: Theme,
    focus: Sequence[Idea],
    block: PortfolioBlock,
    remaining: int,
    epoch: int | None,
) -> tuple[_Parts, PortfolioBlock]:
    """The task's ideas within ``remaining`` tokens, and the portfolio block kept (or
    dropped, when the focus ideas would not all fit in full beside it)."""
    details = _focus_details(focus)
    tags, related = details.tags, details.related
    parts = _Parts(remaining=remaining - (block.token_count + 1 if block.text else 0))
    # Focus ideas the block shows as they are now point there, for a ``focus_per_epoch``
    # role too: its epoch rendering is shared only by the calls whose focus it stands for
    # (an ideator's explore and deepen alternate), and the model reads each line once.
    parts.focus_add(focus, tags, related, block)
    if block.text and len(parts.full_ids) < len(focus):
        block = PortfolioBlock(text="", idea_ids=(), token_count=0)
        parts = _Parts(remaining=remaining)
        parts.focus_add(focus, tags, related)
    if epoch is None or focus:
        # Without an epoch, other ideas fill what is left; with one, the ideas related to
        # the focus, leaving out the block's (in the query: fetching RELATED_LIMIT plus
        # the block's 80 ideas with their tags to keep 6 cost most of the context's time).
        # ``idea_context_candidates``' ideas with their tag names alone: the summaries
        # print nothing else of the tags.
        others, names = ideas_shown_named(
            ids=idea_context_candidate_ids(
                theme=theme,
                focus_ideas=focus,
                limit=CANDIDATE_LIMIT if epoch is None else RELATED_LIMIT,
                exclude_ids=block.idea_ids,
                focus_links=details.links,
                focus_tag_ids=details.tag_ids,
                epoch=epoch,
            )
        )
        heading = OTHER_IDEAS_HEADING if epoch is None else RELATED_HEADING
        parts.summaries_add(heading, others, names)
    return parts, block


def _ideas_token_count(block: PortfolioBlock, texts: Sequence[str]) -> int:
    """The exact tokens of ``ideas_text``, from counts remembered per part
    (``harmony_token_count_lines``): the block, the headings and the renderings of ideas
    that did not change are the same texts call after call, so only new parts are
    encoded, not the whole task text on every call."""
    # The block as its lines, each counted (with its newline) when the block was
    # rendered: the block's last line and a newline are then no new text each epoch.
    if block.text and texts and splits_after_newline(texts[0]):
        # The block's lines end at the newline before the task's first part (a heading),
        # so they count the same on every call of the epoch: summed once per block
        # (``_block_closed_count``) instead of looked up line by line on every call.
        return _block_closed_count(block.text) + harmony_token_count_lines(texts)
    parts = [*_block_parts(block.text), *texts] if block.text else list(texts)
    return harmony_token_count_lines(parts) if parts else 0


@functools.lru_cache(maxsize=8)
def _block_closed_count(text: str) -> int:
    """The tokens of the block's text and the newline after it (``closed``): a count
    that depends on the text alone."""
    return harmony_token_count_lines(_block_parts(text), closed=True)


@functools.lru_cache(maxsize=8)
def _block_parts(text: str) -> tuple[str, ...]:
    return tuple(text.split("\n"))


def context_build(
    *,
    theme: Theme,
    role: str,
    focus_ideas: Sequence[Idea],
    token_budget: int,
    epoch: int | None = None,
    focus_per_epoch: bool = False,
) -> RoleContext:
    """The context for one call of ``role`` about ``focus_ideas``, within ``token_budget``.

    Focus ideas come in full while they fit, then as summaries. Without ``epoch``, other
    ideas fill what is left as one-line summaries. With it, ``ideas_text`` opens with the
    epoch's portfolio block (``portfolio_block_get``), shared byte for byte by every call
    of the epoch, and only the ideas related to the focus follow as summaries; the block
    is left out when the focus ideas would not all fit in full beside it (the task's own
    ideas come first). Raises ``ContextBudgetError`` when the budget cannot hold the
    developer text itself (the IP spec is never cut: it is the brand).

    ``focus_per_epoch`` (with ``epoch``): the task's ideas (focus in full, related
    summaries) are rendered by the epoch's first call and reused, byte for byte, by the
    later ones whose focus it stands for (``_task_block_fits``), for a role whose focus
    is the top of the portfolio (the planner's, the ideator's deepen), which the critic
    re-scores between two calls. What changed since (a shown idea's status or
    scores, focus ideas the block does not show) comes apart, in ``changes_text``.
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
    block = PortfolioBlock(text="", idea_ids=(), token_count=0)
    if epoch is not None:
        cap = int(remaining * PORTFOLIO_BUDGET_SHARE)
        block = portfolio_block_get(theme=theme, epoch=epoch, token_cap=cap)
    changes_text = ""
    key = None
    if epoch is not None and focus_per_epoch and focus:
        key = _task_block_key(theme, role, epoch, remaining)
    kept = epoch_memo.get(key, TaskBlock) if key else None
    if kept is not None and _task_block_fits(kept, focus):
        if not kept.with_portfolio:
            block = PortfolioBlock(text="", idea_ids=(), token_count=0)
        parts = _Parts(
            remaining=kept.remaining,
            texts=list(kept.texts),
            full_ids=list(kept.full_ids),
            summary_ids=list(kept.summary_ids),
            omitted=list(kept.omitted),
        )
        lines = _changes_render(kept, focus)
        if lines:
            changes_text = "\n".join([CHANGES_HEADING, *lines])
            cost = harmony_token_count(changes_text) + 1
            if cost > parts.remaining:
                changes_text = ""  # the next epoch shows them in the block itself
            else:
                parts.remaining -= cost
    else:
        parts, block = _task_parts(
            theme=theme,
            focus=focus,
            block=block,
            remaining=remaining,
            epoch=epoch,
        )
        if key:
            rendered = TaskBlock(
                texts=tuple(parts.texts),
                remaining=parts.remaining,
                full_ids=tuple(parts.full_ids),
                summary_ids=tuple(parts.summary_ids),
                omitted=tuple(parts.omitted),
                with_portfolio=bool(block.text),
                shown=tuple((idea.pk, _shown_state(idea)) for idea in parts.shown),
                focus_ids=tuple(idea.pk for idea in focus),
            )
            # The first call of the epoch wins, as for the portfolio block; a later one
            # that lost the race, or whose focus the kept one does not stand for, renders
            # its own this once.
            epoch_memo.add(key, rendered, PORTFOLIO_CACHE_SECONDS)
    texts = ([block.text] if block.text else []) + parts.texts
    ideas_text = "\n".join(texts)
    ideas_tokens = _ideas_token_count(block, parts.texts)
    if changes_text:
        ideas_tokens += harmony_token_count(changes_text) + 1
    while texts and developer_tokens + ideas_tokens > token_budget:  # pragma: no cover
        texts.pop()  # tokenisation across the joins came out larger than the parts' sum
        ideas_text = "\n".join(texts)
        ideas_tokens = harmony_token_count(ideas_text) if ideas_text else 0
    return RoleContext(
        role=role,
        developer_text=developer_text,
        ideas_text=ideas_text,
        token_count=developer_tokens + ideas_tokens,
        developer_token_count=developer_tokens,
        full_idea_ids=tuple(parts.full_ids),
        summary_idea_ids=tuple(parts.summary_ids),
        omitted_focus_ids=tuple(parts.omitted),
        portfolio_idea_ids=block.idea_ids,
        changes_text=changes_text,
    )
