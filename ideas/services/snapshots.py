"""Portfolio snapshots: Markdown with statistics, one per theme and iteration count."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from bizagent import sql
from decisions.actors import Actor
from decisions.services import audit_log
from ideas.models import Idea, Snapshot, Theme
from ideas.selectors import SNAPSHOT_TOP, portfolio_stats, priority_ideas, tag_names_of


def _cell(value: Any) -> str:
    """A Markdown table cell: no pipes or newlines from model text."""
    text = "—" if value is None or value == "" else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def _score(idea: Idea, name: str) -> str:
    model = getattr(idea, name)
    human = getattr(idea, f"human_{name}")
    if human is not None:
        return f"**{human:g}** (model {model:g})" if model is not None else f"**{human:g}**"
    return "—" if model is None else f"{model:g}"


def snapshot_markdown(
    *,
    theme: Theme,
    iteration_count: int,
    stats: dict[str, Any],
    top: list[Idea],
    tags: Mapping[int, Sequence[str]] | None = None,
) -> str:
    """The snapshot page: headline numbers, score table, top ideas by priority.

    ``tags``: each top idea's tag names as ``Idea.tag_names`` sorts them, when the caller
    read them already (``tag_names_of``); otherwise each idea's own."""
    lines = [
        f"# Portfolio snapshot — {theme.name}",
        "",
        f"- IP: {theme.ip_profile}",
        f"- Iteration: {iteration_count}",
        f"- Taken: {timezone.now():%Y-%m-%d %H:%M %Z}",
        f"- Ideas: {stats['ideas']} visible "
        f"({', '.join(f'{k} {v}' for k, v in stats['by_status'].items() if v)})",
        f"- Reviewed: {stats['reviewed']}, human-corrected: {stats['human_corrected']}, "
        f"refused proposals: {stats['refusals']}",
        f"- Diversity: {_cell(stats['diversity'])}, repetition: {_cell(stats['repetition'])}, "
        f"brand affinity: {_cell(stats['brand']['affinity'])}, "
        f"drift: {_cell(stats['brand']['drift'])}",
        "",
        "## Scores (effective: a person's correction wins)",
        "",
        "| score | n | mean | variance |",
        "|---|---|---|---|",
    ]
    for name, row in stats["scores"].items():
        lines.append(f"| {name} | {row['n']} | {_cell(row['mean'])} | {_cell(row['variance'])} |")
    if stats["top_tags"]:
        lines += ["", "## Top tags", ""]
        lines.append(", ".join(f"`{_cell(name)}` ({n})" for name, n in stats["top_tags"]))
    lines += [
        "",
        f"## Top {len(top)} ideas by priority",
        "",
        "| # | title | status | brand fit | novelty | feasibility | priority | tags |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for idea in top:
        lines.append(
            f"| {idea.pk} | {_cell(idea.title)} | {idea.status} | {_score(idea, 'brand_fit')} "
            f"| {_score(idea, 'novelty')} | {_score(idea, 'feasibility')} | {idea.priority:g} "
            f"| {_cell(', '.join(idea.tag_names if tags is None else tags[idea.pk]))} |"
        )
    for idea in top[:10]:
        lines += [
            "",
            f"### {_cell(idea.title)}",
            "",
            _cell(idea.summary),
            "",
            f"- Audience: {_cell(idea.target_audience)}",
            f"- Value: {_cell(idea.value_proposition)}",
            f"- Revenue: {_cell(idea.revenue_model)}",
        ]
    return "\n".join(lines) + "\n"


@sql.statement
def _snapshot_taken_sql() -> str:
    return (
        f"SELECT {sql.columns(Snapshot)} FROM {sql.table(Snapshot)} "  # noqa: S608 - model names
        f"WHERE {sql.column(Snapshot, 'theme')} = %s "
        f"AND {sql.column(Snapshot, 'iteration_count')} = %s LIMIT 1"
    )


def _snapshot_taken(*, theme_id: int, iteration_count: int) -> Snapshot | None:
    """``Snapshot.objects.filter(theme_id=..., iteration_count=...).first()``, written out
    (the ORM's query building and ordering cost several times the indexed statement; the
    unique constraint leaves at most one row, so no order is needed)."""
    rows = sql.rows_fetch(_snapshot_taken_sql(), [theme_id, iteration_count])
    found = sql.models_from_rows(Snapshot, rows)
    return found[0] if found else None


def snapshot_create(*, theme: Theme, iteration_count: int, actor: Actor = None) -> Snapshot:
    """The snapshot for ``iteration_count``, taken now or returned if already taken.

    Idempotent, because the snapshot tick is delivered at least once. ``actor`` is the
    person who asked for it from the admin (none for the loop's own snapshots).
    """
    existing = _snapshot_taken(theme_id=theme.pk, iteration_count=iteration_count)
    if existing is not None:
        return existing
    stats = portfolio_stats(theme=theme)
    # The tag names alone, as the portfolio block reads them: the page prints nothing
    # else of the tags, and filling 30 ideas' ``Tag`` prefetch cost more than the
    # statement (one statement either way).
    top = priority_ideas(theme=theme, limit=SNAPSHOT_TOP, with_tags=False)
    names = tag_names_of(idea_ids=[idea.pk for idea in top])
    snapshot = Snapshot(
        theme=theme,
        iteration_count=iteration_count,
        markdown=snapshot_markdown(
            theme=theme, iteration_count=iteration_count, stats=stats, top=top, tags=names
        ),
        stats=stats,
    )
    # The theme is a row in hand (its check would read it again); the insert itself
    # enforces one snapshot per iteration count.
    snapshot.full_clean(exclude=["theme"], validate_constraints=False)
    try:
        with transaction.atomic():
            sql.rows_insert(Snapshot, [snapshot])
            audit_log(
                action="ideas.snapshot_created",
                actor=actor,
                subject=snapshot,
                data={"iteration_count": iteration_count, "ideas": stats["ideas"]},
            )
    except IntegrityError:
        return Snapshot.objects.get(theme=theme, iteration_count=iteration_count)
    return snapshot
