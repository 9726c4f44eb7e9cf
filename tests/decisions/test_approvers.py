"""Who is an approver: one rule for deciding (admin, links, services) and for mail.

May decide: active users holding ``decisions.approve_decision`` directly, through a
group, or as superusers. Staff status is admin access, not approval: a non-staff holder
of the permission decides through their mailed link. Mail goes to those of them with an
email address, narrowed to ``BIZAGENT_APPROVER_GROUP`` when it is set.
"""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.core.exceptions import PermissionDenied
from django.test import Client

from decisions.models import Decision
from decisions.selectors import decision_approvers, decision_mail_recipients, user_may_decide
from decisions.services import decision_reject

pytestmark = pytest.mark.django_db(transaction=True)


def _person(username: str, *, email: bool = True, **flags) -> User:
    return User.objects.create_user(
        username, f"{username}@example.com" if email else "", f"pw-{username}-123", **flags
    )


@pytest.fixture
def approve() -> Permission:
    return Permission.objects.get(codename="approve_decision")


@pytest.fixture
def people(alice, bob, charlie, approve) -> dict[str, User]:
    """Every persona: (may decide, is mailed) is in the test below."""
    dave = _person("dave")  # not staff, holds the permission directly
    dave.user_permissions.add(approve)
    erin = _person("erin")  # not staff, holds it through a group
    signers = Group.objects.create(name="signers")
    signers.permissions.add(approve)
    erin.groups.add(signers)
    root = User.objects.create_superuser("root", "root@example.com", "pw-root-123")
    gone = _person("gone", is_active=False)  # left the company
    gone.user_permissions.add(approve)
    quiet = _person("quiet", email=False, is_staff=True)  # may decide, cannot be mailed
    quiet.user_permissions.add(approve)
    found = {u.username: u for u in (alice, bob, charlie, dave, erin, root, gone, quiet)}
    return {name: User.objects.get(pk=user.pk) for name, user in found.items()}


RULE = {  # username: (may decide, is mailed)
    "alice": (True, True),  # staff with the permission
    "bob": (False, False),  # staff without it
    "charlie": (False, False),  # outsider
    "dave": (True, True),  # non-staff with the permission
    "erin": (True, True),  # non-staff, permission through a group
    "root": (True, True),  # superuser
    "gone": (False, False),  # inactive
    "quiet": (True, False),  # no email address
}


def test_it_applies_one_rule_per_persona(people, make_decision):
    assert {name: user_may_decide(user) for name, user in people.items()} == {
        name: rule[0] for name, rule in RULE.items()
    }
    assert set(decision_approvers().values_list("username", flat=True)) == {
        name for name, rule in RULE.items() if rule[0]
    }
    assert set(decision_mail_recipients().values_list("username", flat=True)) == {
        name for name, rule in RULE.items() if rule[1]
    }
    # The services accept exactly the same people.
    for name, user in people.items():
        decision = make_decision(title=f"for {name}")
        try:
            decision_reject(decision_id=decision.pk, user=user, comment="")
            accepted = True
        except PermissionDenied:
            accepted = False
        assert accepted == RULE[name][0], name


def test_the_approver_group_narrows_the_mail_but_not_who_may_decide(
    people, approve, settings, smtp_server, q_sync, make_decision
):
    owners = Group.objects.create(name="owners")
    for name in ("alice", "bob"):  # bob is in the group but lacks the permission
        people[name].groups.add(owners)
    settings.APPROVER_GROUP = "owners"
    assert list(decision_mail_recipients()) == [people["alice"]]
    make_decision()
    # Nobody is mailed a link that would then refuse them.
    assert [mail.rcpt_tos for mail in smtp_server.messages] == [["alice@example.com"]]
    assert not user_may_decide(User.objects.get(pk=people["bob"].pk))
    assert user_may_decide(people["dave"])  # outside the group, still an approver


def test_a_non_staff_permission_holder_decides_through_the_mailed_link(
    people, smtp_server, q_sync, make_decision
):
    decision = make_decision()
    [mail] = smtp_server.to("dave@example.com")
    [link] = re.findall(r"https?://\S+(/decisions/\S+/link/\S+/)", mail.part("text/plain"))
    page = Client().post(link, {"action": "reject", "comment": "not now"})
    assert page.status_code == 200
    decision.refresh_from_db()
    assert decision.status == Decision.Status.REJECTED
    assert decision.decided_by == people["dave"]
