"""``iteration_start_read``: the active theme and the three figures an iteration starts
from, in one statement; the theme's model rows are reused only while none of their
columns changed."""

from __future__ import annotations

import pytest
from django.utils import timezone

from goals.models import Iteration, Task, TaskKind
from goals.selectors_iteration import iteration_start_read
from goals.services.queue import task_create
from goals.services.record import tokens_day_add
from ideas.models import IPProfile, Theme

pytestmark = pytest.mark.django_db


def _read():
    start = iteration_start_read(now=timezone.now())
    assert start is not None
    return start


def test_no_active_theme_reads_as_none(theme):
    Theme.objects.filter(pk=theme.pk).update(status=Theme.Status.ARCHIVED)
    assert iteration_start_read(now=timezone.now()) is None


def test_the_figures_are_todays_tokens_the_last_number_and_an_open_shake_up(theme):
    start = _read()
    assert (start.theme.pk, start.tokens_used_today, start.last_number) == (theme.pk, 0, 0)
    assert not start.shake_up_open

    tokens_day_add(theme_id=theme.pk, day=timezone.localdate(), tokens=1234)
    for number in (3, 17, 9):
        Iteration.objects.create(
            theme=theme,
            number=number,
            role="ideator",
            task_kind="generate",
            mode="explore",
            started_at=timezone.now(),
            finished_at=timezone.now(),
        )
    shake_up, _ = task_create(theme=theme, kind=TaskKind.SHAKE_UP, priority=99)
    start = _read()
    assert (start.tokens_used_today, start.last_number, start.shake_up_open) == (1234, 17, True)

    # A shake-up that is no longer open does not count.
    Task.objects.filter(pk=shake_up.pk).update(status=Task.Status.DONE)
    assert not _read().shake_up_open


def test_an_unchanged_theme_costs_one_statement(theme, django_assert_num_queries):
    _read()
    with django_assert_num_queries(1):
        start = _read()
    assert start.theme.ip_profile.essence == theme.ip_profile.essence


@pytest.mark.parametrize(
    ("model", "change"),
    [
        (Theme, {"name": "Renamed theme"}),
        (Theme, {"config": {"renamed": True}}),
        (IPProfile, {"essence": "A different essence."}),
        (IPProfile, {"canon_examples": ["a new canon example"]}),
    ],
    ids=["theme-name", "theme-config", "profile-essence", "profile-canon"],
)
def test_a_column_changed_by_a_plain_update_is_read_fresh(theme, model, change):
    """Even an ``update()`` that bypasses every service and leaves the content hashes as
    they were: the kept rows are keyed on every column."""
    before = _read().theme
    pk = theme.pk if model is Theme else theme.ip_profile_id
    model.objects.filter(pk=pk).update(**change)
    after = _read().theme
    read = after if model is Theme else after.ip_profile
    field, value = next(iter(change.items()))
    assert getattr(read, field) == value
    assert getattr(before if model is Theme else before.ip_profile, field) != value


def test_each_reader_gets_its_own_copy(theme):
    first = _read().theme
    first.name = "changed in memory only"
    first.ip_profile.essence = "changed in memory only"
    second = _read().theme
    assert second.name == theme.name
    assert second.ip_profile.essence == theme.ip_profile.essence
    assert second is not first and second.ip_profile is not first.ip_profile
