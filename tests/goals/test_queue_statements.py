"""``goals.services.queue``'s cheaper bookkeeping reads and checks exactly what the ORM
forms it replaced did: the open tasks by dedupe key (a written-out ``SELECT``) and a
new task's field checks (only the fields a spec sets, instead of ``full_clean``). Run on
SQLite and on PostgreSQL (``DATABASE_URL=postgres://...``)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from goals.models import Task
from goals.services.queue import TaskSpec, _open_by_key, _task_build, tasks_create
from tests.goals.factories import TaskFactory
from tests.ideas.factories import ThemeFactory

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

WHEN = dt.datetime(2026, 4, 5, 6, 7, 8, 901_234, tzinfo=dt.UTC)


def _fields(task: Task) -> dict:
    return {field.attname: getattr(task, field.attname) for field in Task._meta.concrete_fields}


def test_open_tasks_by_key_are_the_rows_the_orm_form_read(theme):
    """Every status, an empty key, a key of another theme, JSON and datetimes set: the
    written-out read gives the same tasks, every field converted the same way."""
    other = ThemeFactory(status="draft", activated_at=None)
    for i, status in enumerate(Task.Status.values):
        TaskFactory(
            theme=theme,
            dedupe_key=f"k{i}",
            status=status,
            lease_owner="w" if status == Task.Status.RUNNING else "",
            lease_expires_at=WHEN if status == Task.Status.RUNNING else None,
            metadata={"suggestions": {"3": "もっと"}, "n": i},
            run_after=WHEN,
        )
    TaskFactory(theme=theme, dedupe_key="")
    TaskFactory(theme=other, dedupe_key="k0")
    keys = ["k0", "k1", "k2", "k3", "k4", "k5", "", "missing"]

    orm = {
        task.dedupe_key: task
        for task in Task.objects.filter(
            theme=theme,
            dedupe_key__in=[key for key in keys if key],
            status__in=Task.OPEN_STATUSES,
        )
    }
    written = _open_by_key(theme, keys)

    assert sorted(written) == sorted(orm) == ["k0", "k1"]
    for key, task in orm.items():
        assert _fields(written[key]) == _fields(task)
        assert written[key]._state.adding is False
    assert _open_by_key(theme, ["", ""]) == {}


def test_a_batch_returns_the_open_task_of_a_known_key_instead_of_a_new_one(theme):
    open_task = TaskFactory(theme=theme, dedupe_key="refine:1")
    TaskFactory(theme=theme, dedupe_key="refine:2", status=Task.Status.DONE)

    results = tasks_create(
        theme=theme,
        specs=[
            TaskSpec(kind="refine", dedupe_key="refine:1"),
            TaskSpec(kind="refine", dedupe_key="refine:2"),
        ],
    )

    assert [(task.pk == open_task.pk, created) for task, created in results] == [
        (True, False),
        (False, True),
    ]
    assert Task.objects.filter(theme=theme, dedupe_key="refine:2").count() == 2


SPECS = [
    TaskSpec(kind="refine", brief="b", dedupe_key="refine:1", metadata={"a": [1]}),
    TaskSpec(kind="generate"),
    TaskSpec(kind="no-such-kind"),
    TaskSpec(kind=""),
    TaskSpec(kind="refine", dedupe_key="x" * 121),
    TaskSpec(kind="refine", max_attempts=-1),
    TaskSpec(kind="refine", priority="high"),  # type: ignore[arg-type]
    TaskSpec(kind="refine", metadata={"when": object()}),
    TaskSpec(kind="no-such-kind", dedupe_key="x" * 200, max_attempts=-2),
]


@pytest.mark.parametrize("spec", SPECS, ids=range(len(SPECS)))
def test_a_new_tasks_checks_refuse_what_full_clean_refused(theme, spec):
    """The spec's fields checked alone: the same verdict, the same fields named, as the
    full_clean (foreign keys and constraints excluded) they replace."""
    twin = Task(
        theme=theme,
        kind=spec.kind,
        priority=spec.priority,
        brief=spec.brief,
        dedupe_key=spec.dedupe_key,
        metadata=spec.metadata or {},
        max_attempts=spec.max_attempts,
    )
    try:
        twin.full_clean(
            exclude=["theme", "created_by_iteration"],
            validate_unique=False,
            validate_constraints=False,
        )
        expected = None
    except ValidationError as exc:
        expected = exc.message_dict

    try:
        _task_build(theme=theme, spec=spec, created_by_iteration=None)
        got = None
    except ValidationError as exc:
        got = exc.message_dict

    assert got == expected


def test_a_refused_spec_writes_nothing_of_the_batch(theme):
    with pytest.raises(ValidationError) as caught:
        tasks_create(
            theme=theme,
            specs=[TaskSpec(kind="refine", dedupe_key="ok"), TaskSpec(kind="nonsense")],
        )

    assert list(caught.value.message_dict) == ["kind"]
    assert not Task.objects.filter(theme=theme).exists()


def test_the_fields_a_spec_leaves_alone_pass_full_clean_as_defaults(theme):
    """What lets the checks skip them: a new task's other fields hold defaults that pass."""
    task = Task(theme=theme, kind="generate")
    task.full_clean(validate_unique=False, validate_constraints=False)
