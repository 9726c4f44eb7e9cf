"""The portfolio counters the idea services keep equal a recount of the ideas.

``portfolio_counts_scan`` (and ``portfolio_stats_scan``) count from the ideas themselves:
they define what the counters hold. After any mix of writes through the services, on one
connection or several at once, the counters must say what the scan says, and
``portfolio_stats`` (which reads them) must return what the scanning version returns.
"""

from __future__ import annotations

import importlib
import random

import pytest
from django.apps import apps as django_apps
from django.db import transaction

from ideas.models import Idea, PortfolioCounters, Tag
from ideas.selectors import portfolio_counts_scan, portfolio_stats, portfolio_stats_scan
from ideas.services import (
    IdeaRefused,
    idea_archive,
    idea_human_correct,
    idea_mark_reviewed,
    idea_scores_set,
    idea_update,
    idea_upsert,
    ideas_scores_set,
    ideas_upsert,
    portfolio_counters_rebuild,
)
from ideas.services.counters import counters_move
from tests.concurrency import run_together
from tests.ideas.factories import IdeaFactory, ThemeFactory

pytestmark = pytest.mark.django_db


def _counters(theme) -> dict:
    row = PortfolioCounters.objects.filter(theme=theme).values().get()
    return {name: row[name] for name in portfolio_counts_scan(theme_id=theme.pk)}


def _tag_counts(theme) -> dict[str, int]:
    return dict(Tag.objects.filter(theme=theme).values_list("name", "visible_ideas"))


def _recounted_tags(theme) -> dict[str, int]:
    counts = dict.fromkeys(Tag.objects.filter(theme=theme).values_list("name", flat=True), 0)
    for name in Idea.tags.through.objects.filter(
        tag__theme=theme, idea__status__in=Idea.VISIBLE_STATUSES
    ).values_list("tag__name", flat=True):
        counts[name] += 1
    return counts


def _assert_counters_equal_a_recount(theme) -> None:
    assert _counters(theme) == pytest.approx(portfolio_counts_scan(theme_id=theme.pk))
    assert _tag_counts(theme) == _recounted_tags(theme)
    assert portfolio_stats(theme=theme) == portfolio_stats_scan(theme=theme)


def _proposal(n: int, **extra) -> dict:
    return {
        "title": f"Counted idea {n}",
        "summary": f"A calm product number {n} for tired workers.",
        "tags": ["mug", f"set-{n % 3}"],
        "scores": {"brand_fit": 7.5, "novelty": float(n % 11)},
        **extra,
    }


def test_the_counters_equal_a_recount_after_mixed_writes(bob):
    theme = ThemeFactory()
    results = ideas_upsert(
        theme=theme,
        proposals=[*(_proposal(n) for n in range(6)), {"title": "Mochiusa zombie night"}],
        iteration_id=1,
    )
    assert isinstance(results[-1].error, IdeaRefused)
    ideas = [r.idea for r in results[:-1]]
    _assert_counters_equal_a_recount(theme)

    idea_upsert(theme=theme, data=_proposal(10, tags=["plush"]), iteration_id=2)  # one by one
    idea_upsert(theme=theme, data=_proposal(0, tags=["plush", "mug"]), iteration_id=2)  # update
    ideas_scores_set(
        scores={ideas[1]: {"feasibility": 3.25}, ideas[2]: {"brand_fit": 2.0, "novelty": 9.5}},
        iteration_id=3,
    )
    idea_scores_set(idea=ideas[3], scores={"brand_fit": 6.0}, iteration_id=3)
    idea_update(idea=ideas[4], changes={"tags": ["card"], "summary": "New pitch"}, iteration_id=4)
    with pytest.raises(IdeaRefused):
        idea_update(idea=ideas[5], changes={"summary": "A casino night"}, iteration_id=4)
    idea_human_correct(idea=ideas[1], user=bob, brand_fit=9.0, novelty=1.5)
    idea_human_correct(idea=ideas[2], user=bob, brand_fit=4.0)
    idea_human_correct(idea=ideas[2], user=bob, brand_fit=None)  # the correction cleared
    _assert_counters_equal_a_recount(theme)

    idea_mark_reviewed(idea_ids=[ideas[0].pk, ideas[1].pk], user=bob)
    idea_archive(idea_ids=[ideas[1].pk, ideas[3].pk], user=bob)
    idea_scores_set(idea=ideas[3], scores={"novelty": 0.5}, iteration_id=5)  # while archived
    _assert_counters_equal_a_recount(theme)
    stats = portfolio_stats(theme=theme)
    assert stats["by_status"]["archived"] == 2 and stats["reviewed"] == 1
    assert stats["refusals"] == 2 and stats["ideas"] == 5


def test_portfolio_stats_reads_what_the_scan_counts_on_varied_data(bob):
    theme = ThemeFactory()
    rng = random.Random(8)
    proposals = [
        {
            "title": f"Varied idea {n}",
            "tags": rng.sample(["mug", "plush", "card", "tea", "café"], 2),
            "scores": {name: round(rng.uniform(0, 10), 2) for name in ("brand_fit", "novelty")},
        }
        for n in range(40)
    ]
    ideas = [r.idea for r in ideas_upsert(theme=theme, proposals=proposals, iteration_id=1)]
    ideas_scores_set(
        scores={idea: {"feasibility": round(rng.uniform(0, 10), 3)} for idea in ideas[::2]},
        iteration_id=2,
    )
    for idea in ideas[:5]:
        idea_human_correct(idea=idea, user=bob, novelty=round(rng.uniform(0, 10), 1))
    idea_archive(idea_ids=[idea.pk for idea in ideas[30:]], user=bob)
    _assert_counters_equal_a_recount(theme)


def test_a_theme_without_counters_is_recounted_by_its_first_write():
    theme = ThemeFactory()
    IdeaFactory.create_batch(3, theme=theme, tags=["mug"])
    PortfolioCounters.objects.filter(theme=theme).delete()
    assert portfolio_stats(theme=theme) == portfolio_stats_scan(theme=theme)  # the scan
    ideas_upsert(theme=theme, proposals=[_proposal(1)], iteration_id=1)
    assert PortfolioCounters.objects.filter(theme=theme).exists()
    _assert_counters_equal_a_recount(theme)


def test_the_rebuild_counts_ideas_inserted_around_the_services():
    theme = ThemeFactory()
    ideas_upsert(theme=theme, proposals=[_proposal(1)], iteration_id=1)
    Idea.objects.bulk_create(
        [
            Idea(theme=theme, title=f"Bulk {n}", fingerprint=f"bulk-{n}", brand_fit=float(n))
            for n in range(5)
        ]
    )
    assert portfolio_stats(theme=theme)["ideas"] == 1  # stale until recounted
    counters = portfolio_counters_rebuild(theme=theme)
    assert counters.candidate == 6 and counters.brand_fit_n == 6
    _assert_counters_equal_a_recount(theme)


def test_the_data_migration_counts_existing_themes():
    theme = ThemeFactory()
    IdeaFactory.create_batch(4, theme=theme, tags=["mug", "tea"], brand_fit=5.5)
    PortfolioCounters.objects.all().delete()
    Tag.objects.update(visible_ideas=0)
    migration = importlib.import_module("ideas.migrations.0005_portfolio_counters_fill")
    migration.counters_fill(django_apps, None)
    _assert_counters_equal_a_recount(theme)


def test_it_refuses_to_move_counters_outside_a_transaction(transactional_db):
    theme = ThemeFactory()
    with pytest.raises(RuntimeError, match="transaction"):
        counters_move(theme_id=theme.pk, refusals=1)
    with transaction.atomic():
        counters_move(theme_id=theme.pk, refusals=1)
    assert PortfolioCounters.objects.get(theme=theme).refusals == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres
def test_concurrent_writes_add_up(bob):
    theme = ThemeFactory()
    ideas = [
        r.idea
        for r in ideas_upsert(
            theme=theme, proposals=[_proposal(n) for n in range(100, 112)], iteration_id=1
        )
    ]

    def worker(i: int) -> None:
        if i < 4:  # new ideas, two of them the same proposal delivered twice
            ideas_upsert(
                theme=theme, proposals=[_proposal(i % 3), _proposal(20 + i)], iteration_id=10 + i
            )
        elif i == 4:
            ideas_scores_set(
                scores={idea: {"feasibility": 4.5} for idea in ideas[:6]}, iteration_id=14
            )
        elif i == 5:
            idea_mark_reviewed(idea_ids=[idea.pk for idea in ideas[4:8]], user=bob)
        elif i == 6:
            idea_archive(idea_ids=[idea.pk for idea in ideas[6:10]], user=bob)
        else:
            idea_human_correct(idea=ideas[11], user=bob, brand_fit=1.0)

    _, errors = run_together(worker, 8)
    assert not errors, errors
    assert PortfolioCounters.objects.get(theme=theme).writes > 0
    _assert_counters_equal_a_recount(theme)
