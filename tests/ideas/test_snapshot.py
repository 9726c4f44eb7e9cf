"""snapshot_create: Markdown with statistics, once per iteration count."""

from __future__ import annotations

import pytest

from ideas.models import Snapshot
from ideas.services import snapshot_create
from tests.ideas.factories import IdeaFactory

pytestmark = pytest.mark.django_db


def test_it_renders_the_portfolio_with_stats(theme, audit_calls):
    IdeaFactory(theme=theme, title="Moon | mug", brand_fit=8.0, human_novelty=9.0, tags=["mug"])
    IdeaFactory(theme=theme, title="Sakura plush", brand_fit=6.0)
    snapshot = snapshot_create(theme=theme, iteration_count=20)
    md = snapshot.markdown
    assert md.startswith(f"# Portfolio snapshot — {theme.name}")
    assert "- Iteration: 20" in md
    assert "| brand_fit | 2 | 7.0 | 1.0 |" in md
    assert "Moon \\| mug" in md  # a pipe in model text cannot break the table
    assert "**9**" in md  # human corrections stand out
    assert snapshot.stats["ideas"] == 2
    assert snapshot.stats["scores"]["brand_fit"]["mean"] == 7.0
    assert audit_calls[-1]["action"] == "ideas.snapshot_created"


def test_the_top_ideas_table_lists_each_ideas_tags_sorted_by_name(theme):
    """The tags column (read as names only) is each idea's ``tag_names``: sorted by name,
    several, or none."""
    many = IdeaFactory(theme=theme, title="Many tags", tags=["washi", "cat", "mug"])
    IdeaFactory(theme=theme, title="One tag", tags=["plush"])
    none = IdeaFactory(theme=theme, title="No tags")
    md = snapshot_create(theme=theme, iteration_count=40).markdown
    rows = {line.split(" | ")[0]: line for line in md.splitlines() if line.startswith("| ")}
    assert rows[f"| {many.pk}"].endswith("| cat, mug, washi |")
    assert rows[f"| {none.pk}"].endswith("| — |")
    assert "| plush |" in md


def test_a_repeated_tick_returns_the_same_snapshot(theme):
    first = snapshot_create(theme=theme, iteration_count=10)
    IdeaFactory(theme=theme)
    again = snapshot_create(theme=theme, iteration_count=10)
    assert again.pk == first.pk
    assert Snapshot.objects.count() == 1


def test_a_lost_race_returns_the_winners_snapshot(theme, monkeypatch):
    import ideas.services.snapshots as snapshots

    winner = Snapshot.objects.create(theme=theme, iteration_count=30, markdown="# w", stats={})
    real_filter = Snapshot.objects.filter
    calls = {"n": 0}

    def first_read_misses(*args, **kwargs):
        calls["n"] += 1
        qs = real_filter(*args, **kwargs)
        return qs.none() if calls["n"] == 1 else qs

    monkeypatch.setattr(snapshots.Snapshot.objects, "filter", first_read_misses)
    assert snapshot_create(theme=theme, iteration_count=30).pk == winner.pk
