"""One read-only admin base: every admin of ours uses it instead of its own copy."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.test import RequestFactory

from bizagent.admin_base import NoAddDeleteAdminMixin, ReadOnlyAdminMixin
from decisions.admin import BudgetSpendInline
from decisions.models import AuditEvent, Budget, Decision, PolicySettings, SheetRow
from goals.models import Iteration, LoopState, Task
from ideas.models import Idea, IdeaRefusal, IPProfile, Snapshot, Theme

ROOT = Path(__file__).resolve().parents[2]
APPS = ("bizagent", "decisions", "ideas", "goals", "workflows")
PERMISSIONS = {"has_add_permission", "has_change_permission", "has_delete_permission"}

READ_ONLY = [Decision, AuditEvent, SheetRow, Task, Iteration, IdeaRefusal, Theme, Snapshot]
NO_ADD_DELETE = [Idea, LoopState, PolicySettings]


def _refusals_written_out() -> list[str]:
    """Permission methods whose whole body is ``return False``, outside the base."""
    found = []
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            if path == ROOT / "bizagent" / "admin_base.py":
                continue
            tree = ast.parse(path.read_text(), filename=str(path))
            for node in ast.walk(tree):
                if not isinstance(node, ast.FunctionDef) or node.name not in PERMISSIONS:
                    continue
                body = [
                    statement
                    for statement in node.body
                    if not (
                        isinstance(statement, ast.Expr)
                        and isinstance(statement.value, ast.Constant)
                    )
                ]
                if (
                    len(body) == 1
                    and isinstance(body[0], ast.Return)
                    and isinstance(body[0].value, ast.Constant)
                    and body[0].value.value is False
                ):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}")
    return found


def test_no_admin_writes_out_its_own_refusals():
    assert _refusals_written_out() == []


@pytest.fixture
def superuser_request(db):
    request = RequestFactory().get("/admin/")
    request.user = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    return request


@pytest.mark.parametrize("model", READ_ONLY, ids=lambda m: m.__name__)
def test_read_only_admins_refuse_even_a_superuser(model, superuser_request):
    model_admin = admin.site._registry[model]
    assert isinstance(model_admin, ReadOnlyAdminMixin)
    assert not model_admin.has_add_permission(superuser_request)
    assert not model_admin.has_change_permission(superuser_request)
    assert not model_admin.has_delete_permission(superuser_request)
    assert model_admin.has_view_permission(superuser_request)


@pytest.mark.parametrize("model", NO_ADD_DELETE, ids=lambda m: m.__name__)
def test_service_created_rows_are_editable_but_never_added_or_deleted(model, superuser_request):
    model_admin = admin.site._registry[model]
    assert isinstance(model_admin, NoAddDeleteAdminMixin)
    assert not isinstance(model_admin, ReadOnlyAdminMixin)
    assert not model_admin.has_add_permission(superuser_request)
    assert not model_admin.has_delete_permission(superuser_request)
    assert model_admin.has_change_permission(superuser_request)


def test_budgets_and_profiles_keep_their_single_refusal(superuser_request):
    budgets = admin.site._registry[Budget]
    assert budgets.has_add_permission(superuser_request)
    assert not budgets.has_delete_permission(superuser_request)
    profiles = admin.site._registry[IPProfile]
    assert not profiles.has_add_permission(superuser_request)
    assert profiles.has_change_permission(superuser_request)


def test_the_budget_spend_inline_adds_nothing(superuser_request):
    inline = BudgetSpendInline(Decision, admin.site)
    assert not inline.has_add_permission(superuser_request, None)
    assert not inline.has_delete_permission(superuser_request, None)
