"""The people every app's tests log in as, defined once (as in healthchecks).

alice approves, bob requests, charlie is an outsider. Each app grants them its own
permissions, the ones its tests were written against:

- decisions: alice is staff and approves decisions (and reads the queue, the audit log
  and the budgets); bob is staff who may view decisions but not decide; charlie has an
  active account with no staff access and no permission (the admin sends him to log in).
- ideas: alice is a superuser; bob is staff who may view and change ideas; charlie is
  staff with no permission on ideas (the admin answers him 403).
- goals: alice is a superuser (she may change tasks and run the loop); bob is staff who
  may view tasks and iterations and pause or resume the loop, and view goals; charlie is staff
  with no permission on goals.
- workflows: alice may view, add, change, delete and execute workflows and view and
  change (cancel, retry) runs, and create collections and upload and delete their
  documents; bob may only view workflows, runs, collections and documents; charlie is
  staff with no permission on workflows.

The ``alice``, ``bob`` and ``charlie`` fixtures (tests/conftest.py) give a test the
persona of the app its file lives under (``tests/<app>/…``); ``persona_create`` builds a
persona for another app by name, and ``person_create`` anyone else a test needs (a
second approver, a crowd of racing approvers).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from django.contrib.auth.models import Permission, User

TESTS = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Grant:
    """What one persona may do in one app."""

    staff: bool = True
    superuser: bool = False
    permissions: tuple[str, ...] = ()


GRANTS: dict[str, dict[str, Grant]] = {
    "decisions": {
        "alice": Grant(
            permissions=(
                "decisions.approve_decision",
                "decisions.view_decision",
                "decisions.view_auditevent",
                "decisions.view_budget",
            )
        ),
        "bob": Grant(permissions=("decisions.view_decision",)),
        "charlie": Grant(staff=False),
    },
    "ideas": {
        "alice": Grant(superuser=True),
        "bob": Grant(permissions=("ideas.change_idea", "ideas.view_idea")),
        "charlie": Grant(),
    },
    "goals": {
        "alice": Grant(superuser=True),
        "bob": Grant(
            permissions=(
                "goals.view_loopstate",
                "goals.change_loopstate",
                "goals.view_task",
                "goals.view_iteration",
                # Goal pages: bob reads goals and their plans, he does not add them.
                "goals.view_goal",
                "goals.view_planrevision",
            )
        ),
        "charlie": Grant(),
    },
    "workflows": {
        "alice": Grant(
            permissions=(
                "workflows.view_workflow",
                "workflows.add_workflow",
                "workflows.change_workflow",
                "workflows.delete_workflow",
                "workflows.execute_workflow",
                "workflows.view_run",
                "workflows.change_run",
                # Document collections for rag-query.
                "workflows.view_collection",
                "workflows.add_collection",
                "workflows.view_document",
                "workflows.add_document",
                "workflows.delete_document",
            )
        ),
        "bob": Grant(
            permissions=(
                "workflows.view_workflow",
                "workflows.view_run",
                "workflows.view_collection",
                "workflows.view_document",
            )
        ),
        "charlie": Grant(),
    },
}


def person_create(
    username: str,
    *,
    staff: bool = True,
    superuser: bool = False,
    permissions: Iterable[str] = (),
    email: str | None = None,
) -> User:
    """An active user ``username`` holding ``permissions`` (codenames), read back fresh.

    Read back because Django caches a user's permissions on first use: the returned
    object sees exactly what was granted.
    """
    email = f"{username}@example.com" if email is None else email
    password = f"pw-{username}-123"
    if superuser:
        user = User.objects.create_superuser(username, email, password)
    else:
        user = User.objects.create_user(username, email, password, is_staff=staff)
    user.user_permissions.add(*(permission_get(name) for name in permissions))
    return User.objects.get(pk=user.pk)


def permission_get(name: str) -> Permission:
    """A permission by ``app_label.codename`` (as ``has_perm`` spells it) or bare codename.

    Spell it with the app where the codename is not unique: ``view_task`` is both goals'
    and django-q2's.
    """
    if "." in name:
        app_label, codename = name.split(".", 1)
        return Permission.objects.get(content_type__app_label=app_label, codename=codename)
    return Permission.objects.get(codename=name)


def persona_create(name: str, *, app: str) -> User:
    """``name`` (alice, bob or charlie) as ``app``'s tests know them."""
    grant = GRANTS[app][name]
    return person_create(
        name, staff=grant.staff, superuser=grant.superuser, permissions=grant.permissions
    )


def app_of(path: Path) -> str:
    """The app a test file belongs to: its first folder under tests/."""
    parts = Path(path).resolve().relative_to(TESTS).parts
    if len(parts) < 2 or parts[0] not in GRANTS:
        raise LookupError(
            f"{path} is not under tests/<app>/ for an app with personas ({', '.join(GRANTS)})"
        )
    return parts[0]
