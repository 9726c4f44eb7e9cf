"""``iteration_start_read``: the active theme and the four figures an iteration starts
from, in one statement; the theme's model rows are reused only while none of their
columns changed."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from goals.models import Iteration, Task, TaskKind
from goals.selectors_iteration import iteration_start_read
from goals.services import iteration_run
from goals.services.queue import task_create
from goals.services.record import tokens_day_add
from ideas.models import IPProfile, Theme
from tests.goals.studio import StudioClient
from tests.ideas.factories import ThemeFactory

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


def test_a_readers_copy_is_the_saved_model_with_its_own_state(theme, django_assert_num_queries):
    _read()  # built and kept
    copy = _read().theme
    with django_assert_num_queries(0):  # the profile comes with it, as ``select_related``
        assert copy.ip_profile.pk == theme.ip_profile.pk
    assert copy == theme and copy._state.db == "default" and not copy._state.adding
    copy._state.fields_cache.clear()  # one reader's cache emptied: not the next one's
    later = _read().theme
    with django_assert_num_queries(0):
        assert later.ip_profile.essence == theme.ip_profile.essence
    copy.name = "saved from a copy"
    copy.save(update_fields=["name"])
    assert Theme.objects.get(pk=theme.pk).name == "saved from a copy"


def _lease(task: Task, *, expires: dt.datetime, status: str = Task.Status.RUNNING) -> None:
    Task.objects.filter(pk=task.pk).update(
        status=status, lease_owner="dead-worker", lease_expires_at=expires
    )


@pytest.mark.postgres
def test_leases_lapsed_is_the_orm_exists_on_the_same_rows(theme):
    """Whether any running task's lease lapsed before ``now``, any theme's: what
    ``Task.objects.filter(status=RUNNING, lease_expires_at__lt=now).exists()`` says."""
    now = timezone.now()
    other_theme = ThemeFactory(status=Theme.Status.ARCHIVED)

    def orm() -> bool:
        return Task.objects.filter(status=Task.Status.RUNNING, lease_expires_at__lt=now).exists()

    def read() -> bool:
        start = iteration_start_read(now=now)
        assert start is not None
        return start.leases_lapsed

    assert (read(), orm()) == (False, False)  # no task at all
    live, _ = task_create(theme=theme, kind=TaskKind.GENERATE, priority=50)
    _lease(live, expires=now + dt.timedelta(minutes=5))
    assert (read(), orm()) == (False, False)  # running, lease still held
    _lease(live, expires=now)
    assert (read(), orm()) == (False, False)  # lapses at ``now``, not before
    done, _ = task_create(theme=theme, kind=TaskKind.CRITIQUE, priority=50)
    _lease(done, expires=now - dt.timedelta(hours=1), status=Task.Status.DONE)
    assert (read(), orm()) == (False, False)  # an old lease of a task no longer running
    elsewhere, _ = task_create(theme=other_theme, kind=TaskKind.GENERATE, priority=50)
    _lease(elsewhere, expires=now - dt.timedelta(seconds=1))
    assert (read(), orm()) == (True, True)  # another theme's lapsed lease counts too


def test_an_iteration_returns_a_lapsed_lease_to_the_queue_and_claims_it(theme):
    """A task whose worker died is back in the queue before the iteration claims: the
    start's figure leads to ``task_leases_expire``."""
    task, _ = task_create(
        theme=theme, kind=TaskKind.SNAPSHOT, priority=99, metadata={"iteration_count": 10}
    )
    _lease(task, expires=timezone.now() - dt.timedelta(seconds=1))
    report = iteration_run(worker="w", scheduled=False, client=StudioClient())
    assert report.iteration is not None
    assert (report.iteration.task_kind, report.iteration.task_id) == ("snapshot", task.pk)
    task.refresh_from_db()
    assert (task.status, task.lease_losses) == (Task.Status.DONE, 1)
