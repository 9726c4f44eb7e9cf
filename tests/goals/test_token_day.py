"""The day's token counter (``TokenDay``): what the daily budget reads, kept in the
transaction that inserts each iteration, equal to summing the day's iterations."""

from __future__ import annotations

import datetime as dt
import importlib

import pytest
from django.apps import apps as django_apps
from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils import timezone

from goals.models import Iteration, TokenDay
from goals.selectors import tokens_used_today
from goals.selectors_iteration import iteration_start_read
from goals.services import iteration_run
from goals.services.record import tokens_day_add
from tests.concurrency import run_together
from tests.goals.factories import ThemeFactory
from tests.goals.studio import Studio
from tests.goals.test_loop_e2e import fake, studio_responder  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db


def test_the_days_counter_is_the_sum_of_the_days_iterations(theme, fake):  # noqa: F811
    fake.responder = studio_responder(Studio())
    for _ in range(12):
        assert iteration_run(worker="w", scheduled=False).ran
    spent = Iteration.objects.filter(theme=theme).aggregate(
        total=Sum(F("prompt_tokens") + F("completion_tokens"))
    )["total"]
    assert spent > 0
    assert TokenDay.objects.get(theme=theme, day=timezone.localdate()).tokens == spent
    assert tokens_used_today(theme=theme) == spent
    start = iteration_start_read(now=timezone.now())
    assert start is not None and start.tokens_used_today == spent


def test_each_day_counts_its_own_tokens(theme):
    today = timezone.localdate()
    tokens_day_add(theme_id=theme.pk, day=today - dt.timedelta(days=1), tokens=700)
    tokens_day_add(theme_id=theme.pk, day=today, tokens=40)
    tokens_day_add(theme_id=theme.pk, day=today, tokens=2)
    tokens_day_add(theme_id=theme.pk, day=today, tokens=0)
    assert tokens_used_today(theme=theme) == 42
    yesterday = timezone.now() - dt.timedelta(days=1)
    assert tokens_used_today(theme=theme, now=yesterday) == 700
    assert TokenDay.objects.filter(theme=theme).count() == 2


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_first_iterations_of_a_day_racing_make_one_row_with_every_token(theme):
    """Workers that all find no row for the day and all create it: the unique constraint
    stops all but one, and the others add to the row it created."""
    day = timezone.localdate()

    def worker(index: int) -> None:
        with transaction.atomic():
            tokens_day_add(theme_id=theme.pk, day=day, tokens=index + 1)

    _, errors = run_together(worker, 4)
    assert errors == []
    assert list(TokenDay.objects.filter(theme=theme).values_list("day", "tokens")) == [(day, 10)]
    with pytest.raises(IntegrityError), transaction.atomic():
        TokenDay.objects.create(theme=theme, day=day, tokens=1)


def test_the_migration_counts_the_days_of_the_iterations_before_it(theme):
    """Migration 0013 fills the counter from the iterations already recorded, each on
    the day of its ``started_at`` in the project's time zone."""
    backfill = importlib.import_module("goals.migrations.0013_tokenday").tokens_per_day_count
    now = timezone.now()
    for started_at, prompt, completion in (
        (now, 100, 20),
        (now - dt.timedelta(minutes=1), 3, 4),
        (now - dt.timedelta(days=1), 50, 0),
    ):
        Iteration.objects.create(
            theme=theme,
            number=Iteration.objects.count() + 1,
            role="ideator",
            mode="explore",
            outcome="ok",
            started_at=started_at,
            finished_at=started_at,
            prompt_tokens=prompt,
            completion_tokens=completion,
        )
    TokenDay.objects.all().delete()
    backfill(django_apps, None)
    assert tokens_used_today(theme=theme, now=now) == 127
    assert tokens_used_today(theme=theme, now=now - dt.timedelta(days=1)) == 50


def test_the_written_out_increment_adds_to_that_day_only_as_the_orm_did(theme):
    """The day's UPDATE by hand against the ORM's F() update it replaced: same rows hit,
    same sums (the date parameter adapted as the ORM adapts it)."""
    other = ThemeFactory(status="archived")
    day = dt.date(2026, 2, 28)
    for t in (theme, other):
        for d in (day, day + dt.timedelta(days=1)):
            TokenDay.objects.create(theme=t, day=d, tokens=5)
    tokens_day_add(theme_id=theme.pk, day=day, tokens=37)
    TokenDay.objects.filter(theme=other, day=day).update(tokens=F("tokens") + 37)
    mine = {r.day: r.tokens for r in TokenDay.objects.filter(theme=theme)}
    theirs = {r.day: r.tokens for r in TokenDay.objects.filter(theme=other)}
    assert mine == theirs == {day: 42, day + dt.timedelta(days=1): 5}
    assert TokenDay.objects.count() == 4
