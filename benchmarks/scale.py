"""The big runs the test suite no longer makes, with their figures.

- The explore:deepen ratio over 200 iterations of the real loop (tight and scattered
  portfolio); the suite checks the pure scheduler and a 16-iteration wiring run.
- The prompt of each role at 1,000 and 100,000 ideas; the suite checks 500 and 5,000.
- ``context_build``'s queries and time at 1,000 and 100,000 ideas (with tags).

    .venv/bin/python benchmarks/scale.py [--skip-ratio] [--skip-size]

Exits non-zero when a property the suite used to check at this size does not hold.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import sys

import harness  # first: sets Django up on a throwaway database
from django.db import transaction

from bizagent.llm.harmony import harmony_render
from goals.models import Iteration
from goals.services import iteration_run, task_create
from ideas.context import context_build
from ideas.mode import explore_ratio_effective
from ideas.models import Idea, Tag
from ideas.services import portfolio_counters_rebuild
from tests.goals.factories import ThemeFactory
from tests.goals.studio import StudioClient

FAILURES: list[str] = []


def check(ok: bool, message: str) -> None:
    print(f"  {'ok  ' if ok else 'FAIL'} {message}")
    if not ok:
        FAILURES.append(message)


def bulk_ideas(theme, count: int, start: int = 0, tags: list[Tag] | None = None) -> None:
    rng = random.Random(start)
    batch = []
    for n in range(start, start + count):
        title = f"Bulk idea {n}: seasonal goods for tired workers"
        batch.append(
            Idea(
                theme=theme,
                title=title,
                summary=f"Idea {n} summary: a calm product for commuters and night-shift nurses.",
                fingerprint=hashlib.sha256(title.lower().encode()).hexdigest(),
                brand_fit=float(n % 11),
                priority=float(n % 97),
            )
        )
        if len(batch) == 5000:
            Idea.objects.bulk_create(batch)
            batch = []
    Idea.objects.bulk_create(batch)
    if tags:
        through = Idea.tags.through
        ids = Idea.objects.filter(theme=theme, title__startswith="Bulk idea ").values_list(
            "pk", flat=True
        )
        rows = [through(idea_id=pk, tag_id=rng.choice(tags).pk) for pk in ids[start:]]
        through.objects.bulk_create(rows, batch_size=10000, ignore_conflicts=True)
    # Inserted around the services: recount what portfolio_stats reads.
    portfolio_counters_rebuild(theme=theme)


def ratio_run(*, ratio: float, scatter: float, iterations: int = 200) -> int:
    """Explorations among ``iterations`` runs of the loop, rolled back afterwards."""
    import goals.services.work as iteration_module

    measured = iteration_module.scatter_measure
    iteration_module.scatter_measure = lambda theme: scatter
    try:
        with transaction.atomic():
            theme = ThemeFactory()
            config = dict(theme.config)
            config["iteration_policy"] = {
                **config["iteration_policy"],
                "explore_ratio": ratio,
                "snapshot_every": 1000,
                "meta_review_every": 1000,
            }
            theme.config = config
            theme.save()
            client = StudioClient()
            for _ in range(iterations):
                assert iteration_run(worker="bench", scheduled=False, client=client).ran
            modes = list(Iteration.objects.order_by("number").values_list("mode", flat=True))
            transaction.set_rollback(True)
    finally:
        iteration_module.scatter_measure = measured
    return modes.count("explore")


def section_mode_ratio() -> None:
    print("\n== explore:deepen ratio over 200 iterations of the loop")
    explore = ratio_run(ratio=0.35, scatter=0.4)
    check(abs(explore - 70) <= 1, f"ratio 0.35, tight portfolio: {explore} explorations of 200")
    expected = 200 * explore_ratio_effective(explore_ratio=0.6, stalled=False, scatter=1.0)
    explore = ratio_run(ratio=0.6, scatter=1.0)
    check(
        abs(explore - expected) <= 1,
        f"ratio 0.6, scattered: {explore} explorations (expected {expected:.0f})",
    )


def prompt_sizes(theme) -> dict[str, int]:
    client = StudioClient()
    task_create(theme=theme, kind="generate", priority=90)
    task_create(theme=theme, kind="meta_review", priority=95)
    first = Iteration.objects.order_by("-number").values_list("number", flat=True).first() or 0
    for _ in range(3):  # meta review (planner), generate (ideator), critique (critic)
        assert iteration_run(worker="bench", scheduled=False, client=client).ran
    roles = Iteration.objects.filter(number__gt=first).order_by("number")
    return {
        role: len(harmony_render(request))
        for role, request in zip(roles.values_list("role", flat=True), client.requests, strict=True)
    }


def section_size() -> None:
    print("\n== prompt and context at 1,000 and 100,000 ideas")
    with transaction.atomic():
        theme = ThemeFactory()
        tags = Tag.objects.bulk_create([Tag(theme=theme, name=f"t{i}") for i in range(60)])
        bulk_ideas(theme, 1_000, tags=tags)
        focus = list(Idea.objects.filter(theme=theme).order_by("pk")[:3])
        small_ms, small_q = context_figures(theme, focus)
        small = prompt_sizes(theme)
        bulk_ideas(theme, 99_000, start=1_000, tags=tags)
        large_ms, large_q = context_figures(theme, focus)
        large = prompt_sizes(theme)
        transaction.set_rollback(True)
    for role, tokens in large.items():
        check(
            tokens < 12_000 and tokens < small[role] * 1.3,
            f"{role}: {small[role]:,} tokens at 1,000 ideas, {tokens:,} at 100,000",
        )
    check(small_q == large_q, f"context_build queries: {small_q} at 1,000, {large_q} at 100,000")
    print(f"  context_build: {small_ms:.1f} ms at 1,000 ideas, {large_ms:.1f} ms at 100,000")


def context_figures(theme, focus) -> tuple[float, int]:
    with harness.queries_counted() as seen:
        context_build(theme=theme, role="ideator", focus_ideas=focus, token_budget=6000)
    elapsed, _ = harness.ms(
        lambda: context_build(theme=theme, role="ideator", focus_ideas=focus, token_budget=6000)
    )
    return elapsed, len(seen)


SECTIONS = {"ratio": section_mode_ratio, "size": section_size}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for name in SECTIONS:
        parser.add_argument(f"--skip-{name}", action="store_true")
    args = parser.parse_args()
    for name, section in SECTIONS.items():
        if not getattr(args, f"skip_{name}"):
            section()
    if FAILURES:
        sys.exit(f"{len(FAILURES)} check(s) failed")


if __name__ == "__main__":
    main()
