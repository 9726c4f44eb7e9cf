"""Staff edit the policy thresholds in the admin; each change is audited and applies
to the next check at once."""

from __future__ import annotations

import pytest

from decisions.models import AuditEvent
from decisions.policy import ActionProposal
from decisions.selectors import policy_settings_get
from decisions.services import policy_check
from decisions.services.policy import EDITABLE

pytestmark = pytest.mark.django_db


def _form(**changes):
    row = policy_settings_get()
    data = {name: getattr(row, name) for name in EDITABLE}
    data.update(changes)
    return row, data


def test_the_changelist_opens_the_one_row(admin_client):
    row = policy_settings_get()
    response = admin_client.get("/admin/decisions/policysettings/")
    assert response.status_code == 302
    assert response["Location"].endswith(f"/admin/decisions/policysettings/{row.pk}/change/")


def test_staff_raise_a_line_and_it_applies_at_once(admin_client, admin_user):
    proposal = ActionProposal("mass_send", recipients=800)
    assert policy_check(proposal=proposal).requires_decision
    row, data = _form(mass_send_recipients=1000)
    response = admin_client.post(f"/admin/decisions/policysettings/{row.pk}/change/", data)
    assert response.status_code == 302
    assert policy_settings_get().mass_send_recipients == 1000
    assert policy_check(proposal=proposal).automatic
    event = AuditEvent.objects.get(action="decisions.policy_updated")
    assert event.actor == admin_user
    assert event.data == {"mass_send_recipients": {"from": "500", "to": "1000"}}


def test_nonsense_is_refused_with_the_field_named(admin_client):
    row, data = _form(strategy_change_fraction="0", mass_send_recipients="0")
    response = admin_client.post(f"/admin/decisions/policysettings/{row.pk}/change/", data)
    assert response.status_code == 200  # the form again, with errors
    errors = response.context["adminform"].form.errors
    assert set(errors) == {"strategy_change_fraction", "mass_send_recipients"}
    assert policy_settings_get().mass_send_recipients == 500
    assert not AuditEvent.objects.filter(action="decisions.policy_updated").exists()


def test_the_policy_row_cannot_be_added_or_deleted(admin_client):
    row = policy_settings_get()
    assert admin_client.get("/admin/decisions/policysettings/add/").status_code == 403
    assert admin_client.post(f"/admin/decisions/policysettings/{row.pk}/delete/").status_code == 403


def test_viewers_without_change_permission_cannot_edit(client, bob):
    from django.contrib.auth.models import Permission

    bob.user_permissions.add(Permission.objects.get(codename="view_policysettings"))
    client.force_login(bob)
    row, data = _form(mass_send_recipients=1)
    response = client.post(f"/admin/decisions/policysettings/{row.pk}/change/", data)
    assert response.status_code == 403
    assert policy_settings_get().mass_send_recipients == 500
