"""A role's last prompt ids live in a row of their own (``RolePrompt``): the next call of
the role measures its shared prefix against them, and migration 0014 moved them there
from the loop's state row."""

from __future__ import annotations

import importlib
from types import SimpleNamespace

import pytest
from django.utils import timezone

from goals.models import LoopState, Role, RolePrompt
from goals.selectors import role_prompt_ids
from goals.services.loop import loop_iteration_count
from goals.stats import prompt_ids_pack

pytestmark = pytest.mark.django_db


def test_each_role_keeps_only_its_own_last_prompt():
    assert role_prompt_ids(role="critic") is None
    loop_iteration_count(role="critic", tokens=10, failed=False, prompt_ids=[1, 2, 3])
    loop_iteration_count(role="editor", tokens=10, failed=False, prompt_ids=[7, 8])
    loop_iteration_count(role="critic", tokens=10, failed=False, prompt_ids=[1, 2, 4, 200_018])
    assert role_prompt_ids(role="critic") == [1, 2, 4, 200_018]
    assert role_prompt_ids(role="editor") == [7, 8]
    state = LoopState.objects.get()
    assert (state.iterations_total, state.tokens_total) == (3, 30)


def test_a_flushed_database_gets_the_roles_row_on_its_first_call():
    RolePrompt.objects.all().delete()
    loop_iteration_count(role="ideator", tokens=1, failed=False, prompt_ids=[5])
    loop_iteration_count(role="ideator", tokens=1, failed=False, prompt_ids=[6])
    assert role_prompt_ids(role="ideator") == [6]


def test_a_call_without_prompt_ids_leaves_the_roles_last_prompt():
    loop_iteration_count(role="planner", tokens=5, failed=False, prompt_ids=[4, 5])
    loop_iteration_count(role="planner", tokens=5, failed=True, error_class="timeout")
    assert role_prompt_ids(role="planner") == [4, 5]
    state = LoopState.objects.get()
    assert (state.iterations_total, state.iterations_failed) == (2, 1)
    assert state.last_error_class == "timeout"


class _Apps:
    """The two models migration 0014 reads and writes; the loop's state as it was before
    it (a JSON object of each role's ids, packed or still a list)."""

    def __init__(self, last_prompt_ids):
        state = SimpleNamespace(last_prompt_ids=last_prompt_ids)
        self.models = {
            "LoopState": SimpleNamespace(objects=SimpleNamespace(all=lambda: [state])),
            "RolePrompt": RolePrompt,
        }

    def get_model(self, app_label, name):
        assert app_label == "goals"
        return self.models[name]


def test_the_migration_moves_each_roles_ids_to_its_row():
    move = importlib.import_module("goals.migrations.0014_roleprompt").prompts_move
    RolePrompt.objects.all().delete()
    before = timezone.now()
    move(
        _Apps({"critic": prompt_ids_pack([9, 10, 11]), "editor": [3, 4], "planner": ""}),
        None,
    )
    assert role_prompt_ids(role="critic") == [9, 10, 11]
    assert role_prompt_ids(role="editor") == [3, 4]
    assert role_prompt_ids(role="planner") is None
    assert set(RolePrompt.objects.values_list("role", flat=True)) == set(Role.values)
    assert all(row.updated_at >= before for row in RolePrompt.objects.all())
