"""The catalogue admin: the list, a person's edit through catalogue_item_update (one
error per field, audited), a person who may only look, and the install button."""

from __future__ import annotations

from decimal import Decimal

import pytest

from decisions.models import AuditEvent
from goals.models import CatalogueItem
from tests.personas import person_create
from workflows.models import Workflow

pytestmark = pytest.mark.django_db

LIST = "/admin/goals/catalogueitem/"
INSTALL = "/admin/goals/catalogueitem/install/"


def _item() -> CatalogueItem:
    return CatalogueItem.objects.get(key="cold_outreach")


def _change(item: CatalogueItem) -> str:
    return f"{LIST}{item.pk}/change/"


def _form(**changes: str) -> dict[str, str]:
    data = {
        "yield_per_unit": "0.002",
        "unit_cost": "3",
        "max_per_day": "50",
        "enabled": "on",
        "run_inputs": "{}",
    }
    return {k: v for k, v in (data | changes).items() if v is not None}


@pytest.fixture
def viewer():
    """Staff who may view the catalogue but not change it."""
    return person_create("vera", permissions=["goals.view_catalogueitem"])


def test_the_list_shows_each_items_figures(client, alice):
    client.force_login(alice)
    page = client.get(LIST).content.decode()
    for text in ("Cold outreach (capped per day)", "0.002000", "200", "Trial onboarding email"):
        assert text in page
    assert 'id="catalogue-install"' in page


def test_the_change_page_shows_the_yield_source_next_to_the_figures(client, alice):
    client.force_login(alice)
    page = client.get(_change(_item())).content.decode()
    assert "Backlinko&#x27;s 12M-email analysis" in page
    assert 'value="0.002"' in page  # as the file writes it, not the column's 0.002000
    assert page.index('name="yield_per_unit"') < page.index("catalogue-yield-source")


def test_a_permitted_person_edits_the_figures_and_the_change_is_audited(client, alice):
    client.force_login(alice)
    item = _item()

    response = client.post(
        _change(item), _form(yield_per_unit="0.004", max_per_day="30", enabled=None)
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    item.refresh_from_db()
    assert (item.yield_per_unit, item.max_per_day, item.enabled) == (Decimal("0.004"), 30, False)
    assert item.updated_by == alice
    (event,) = AuditEvent.objects.filter(action="goals.catalogue_item_changed")
    assert event.actor == alice
    assert event.data["changes"] == {
        "yield_per_unit": ["0.002", "0.004"],
        "max_per_day": [50, 30],
        "enabled": [True, False],
    }


def test_bad_figures_are_refused_with_a_message_per_field(client, alice):
    client.force_login(alice)
    item = _item()

    response = client.post(
        _change(item), _form(yield_per_unit="0", unit_cost="0.5", max_per_day="0")
    )

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors == {
        "yield_per_unit": ["yield_per_unit must be above 0 and at most 1000"],
        "unit_cost": ["unit_cost has more decimals than JPY has"],
        "max_per_day": ["max_per_day must be a whole number of at least 1, got 0"],
    }
    item.refresh_from_db()
    assert (item.yield_per_unit, item.unit_cost, item.max_per_day) == (Decimal("0.002"), 3, 50)
    assert not AuditEvent.objects.filter(action="goals.catalogue_item_changed").exists()


def test_run_inputs_are_set_as_json_and_a_credential_is_refused_by_name(client, alice):
    client.force_login(alice)
    item = _item()

    refused = client.post(_change(item), _form(run_inputs='{"smtp_password": "hunter2"}'))
    saved = client.post(_change(item), _form(run_inputs='{"language": "ja", "sender": "Aiko"}'))

    assert refused.status_code == 200
    (message,) = refused.context["adminform"].form.errors["run_inputs"]
    assert "'smtp_password' looks like a credential" in message
    assert "hunter2" not in refused.content.decode().split("<textarea")[0]
    assert saved.status_code == 302
    item.refresh_from_db()
    assert item.run_inputs == {"language": "ja", "sender": "Aiko"}


def test_a_person_who_may_only_view_cannot_change_or_install(client, viewer):
    client.force_login(viewer)
    item = _item()

    page = client.get(_change(item)).content.decode()
    assert 'name="yield_per_unit"' not in page  # read-only view
    assert client.post(_change(item), _form(max_per_day="10")).status_code == 403
    assert 'id="catalogue-install"' not in client.get(LIST).content.decode()
    assert client.post(INSTALL).status_code == 403

    assert _item().max_per_day == 50
    assert not Workflow.objects.exists()
    assert not AuditEvent.objects.filter(action="goals.catalogue_item_changed").exists()


def test_the_install_button_imports_the_drafts_once(client, alice):
    client.force_login(alice)

    first = client.post(INSTALL, follow=True).content.decode()
    second = client.post(INSTALL, follow=True).content.decode()

    assert "Imported as drafts: briefing-post, cold-outreach, trial-onboarding." in first
    assert "Already there: briefing-post, cold-outreach, trial-onboarding." in second
    assert sorted(Workflow.objects.values_list("key", "status")) == [
        ("briefing-post", "draft"),
        ("cold-outreach", "draft"),
        ("trial-onboarding", "draft"),
    ]
    assert client.get(INSTALL).status_code == 405
