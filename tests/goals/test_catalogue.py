"""The workflow catalogue: the shipped entries load, and bad entries say what is wrong."""

from __future__ import annotations

import importlib
import json
from decimal import Decimal

import pytest
from django.apps import apps as django_apps
from django.core.exceptions import PermissionDenied

from decisions.models import AuditEvent
from goals.catalogue import (
    CATALOGUE_DIR,
    CatalogueError,
    catalogue_entry_from_dict,
    catalogue_item_dict,
    catalogue_load,
)
from goals.models import CatalogueItem
from goals.services.catalogue import CatalogueItemInvalid, catalogue_item_update
from goals.vocabulary import Metric

GOOD = {
    "key": "cold_outreach",
    "title": "Cold outreach",
    "workflow": "cold-outreach",
    "metric": "customers",
    "unit": "email",
    "yield_per_unit": "0.002",
    "unit_cost": "3",
    "currency": "JPY",
    "volume_param": "sends_per_day",
    "max_per_day": 50,
    "yield_source": "a published study",
}


_DROP = object()


def _errors(**changes) -> list[str]:
    data = {**GOOD, **changes}
    data = {k: v for k, v in data.items() if v is not _DROP}
    with pytest.raises(CatalogueError) as info:
        catalogue_entry_from_dict(data, source="x.json")
    assert str(info.value).startswith("x.json: ")
    return info.value.errors


def test_the_shipped_catalogue_has_the_designs_three_workflows():
    entries = {entry.key: entry for entry in catalogue_load(CATALOGUE_DIR)}
    assert set(entries) == {"trial_onboarding", "cold_outreach", "briefing_post"}
    assert entries["trial_onboarding"].metric == Metric.CUSTOMERS
    assert entries["cold_outreach"].max_per_day == 50
    assert entries["briefing_post"].metric == Metric.TRIALS
    for entry in entries.values():
        assert len(entry.yield_source) > 40, f"{entry.key} should say where its yield comes from"


def test_a_good_entry_keeps_exact_decimals():
    entry = catalogue_entry_from_dict(GOOD)
    assert entry.yield_per_unit == Decimal("0.002")
    assert entry.unit_cost == Decimal(3)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"yield_per_unit": 0.002},
            'yield_per_unit must be a decimal written as a string, such as "0.05"',
        ),
        ({"yield_per_unit": "lots"}, "yield_per_unit is not a number: 'lots'"),
        ({"yield_per_unit": "0"}, "yield_per_unit must be above 0 and at most 1000"),
        ({"yield_per_unit": "NaN"}, "yield_per_unit must be a finite number"),
        ({"unit_cost": "-1"}, "unit_cost must not be negative"),
        ({"unit_cost": "0.5"}, "unit_cost has more decimals than JPY has"),
        (
            {"metric": "revenue_growth"},
            "metric must be one of revenue, customers, trials, got 'revenue_growth'",
        ),
        ({"currency": "YEN"}, "currency must be one of EUR, GBP, JPY, USD, got 'YEN'"),
        ({"max_per_day": 0}, "max_per_day must be a whole number of at least 1, got 0"),
        ({"max_per_day": True}, "max_per_day must be a whole number of at least 1, got True"),
        ({"volume_param": "sends per day"}, "volume_param must be a workflow input name"),
        ({"key": "Cold Outreach"}, "key must be lower-case letters, digits and _"),
        ({"yield_source": " "}, "yield_source is required (a non-empty string)"),
        ({"colour": "red"}, "unknown fields: colour"),
        ({"workflow": _DROP}, "missing fields: workflow"),
    ],
)
def test_a_bad_field_is_named(changes, message):
    errors = _errors(**changes)
    assert any(message in error for error in errors), errors


def test_every_problem_is_reported_at_once():
    errors = _errors(unit_cost="-1", max_per_day=0, metric="profit")
    assert len(errors) == 3


def test_a_fractional_cost_is_fine_in_a_currency_with_cents():
    entry = catalogue_entry_from_dict({**GOOD, "currency": "USD", "unit_cost": "0.03"})
    assert entry.unit_cost == Decimal("0.03")


def test_a_file_that_is_not_json_is_named(tmp_path):
    (tmp_path / "broken.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(CatalogueError, match=r"^broken\.json: not valid JSON"):
        catalogue_load(tmp_path)


def test_a_key_used_twice_names_both_files(tmp_path):
    (tmp_path / "a.json").write_text(json.dumps(GOOD), encoding="utf-8")
    (tmp_path / "b.json").write_text(json.dumps(GOOD), encoding="utf-8")
    with pytest.raises(
        CatalogueError, match=r"^b\.json: key 'cold_outreach' is also used by a\.json"
    ):
        catalogue_load(tmp_path)


def test_an_entry_that_is_not_an_object_is_refused():
    with pytest.raises(CatalogueError, match="an entry must be a JSON object"):
        catalogue_entry_from_dict(["cold_outreach"], source="list.json")


# -- the catalogue as rows: seeded by migration 0010, edited by a person -------------------

_SEED = importlib.import_module("goals.migrations.0010_catalogue_seed")


def _files() -> dict[str, dict]:
    return {
        data["key"]: data
        for data in (
            json.loads(path.read_text(encoding="utf-8"))
            for path in sorted(CATALOGUE_DIR.glob("*.json"))
        )
    }


@pytest.mark.django_db
def test_the_migration_seeded_exactly_the_json_entries():
    rows = {item.key: catalogue_item_dict(item) for item in CatalogueItem.objects.all()}
    assert rows == _files()
    assert all(CatalogueItem.objects.values_list("enabled", flat=True))


@pytest.mark.django_db
def test_the_seed_fills_an_empty_table_and_keeps_a_persons_edits():
    CatalogueItem.objects.exclude(key="cold_outreach").delete()
    CatalogueItem.objects.filter(key="cold_outreach").update(max_per_day=30)

    _SEED.catalogue_seed(django_apps, None)

    rows = {item.key: catalogue_item_dict(item) for item in CatalogueItem.objects.all()}
    expected = _files()
    expected["cold_outreach"]["max_per_day"] = 30
    assert rows == expected


@pytest.mark.django_db
def test_catalogue_load_reads_the_enabled_rows():
    CatalogueItem.objects.filter(key="trial_onboarding").update(yield_per_unit=Decimal("0.2"))
    CatalogueItem.objects.filter(key="briefing_post").update(enabled=False)

    entries = {entry.key: entry for entry in catalogue_load()}

    assert set(entries) == {"cold_outreach", "trial_onboarding"}
    assert entries["trial_onboarding"].yield_per_unit == Decimal("0.2")
    files = {entry.key: entry for entry in catalogue_load(CATALOGUE_DIR)}
    assert entries["cold_outreach"] == files["cold_outreach"]


def _item(key: str = "cold_outreach") -> CatalogueItem:
    return CatalogueItem.objects.get(key=key)


@pytest.mark.django_db
def test_an_edit_is_saved_and_audited_old_to_new(alice):
    item = _item()

    catalogue_item_update(
        item_id=item.pk,
        values={"yield_per_unit": Decimal("0.004"), "max_per_day": 40, "unit_cost": "3"},
        actor=alice,
    )

    item.refresh_from_db()
    assert (item.yield_per_unit, item.max_per_day, item.updated_by) == (Decimal("0.004"), 40, alice)
    (event,) = AuditEvent.objects.filter(action="goals.catalogue_item_changed")
    assert event.actor == alice
    assert event.data == {
        "key": "cold_outreach",
        "changes": {"yield_per_unit": ["0.002", "0.004"], "max_per_day": [50, 40]},
    }


@pytest.mark.django_db
def test_run_inputs_are_saved_and_audited_old_to_new(alice):
    item = _item()
    inputs = {"prospects_url": "https://crm.example.com/prospects", "language": "ja"}

    catalogue_item_update(item_id=item.pk, values={"run_inputs": inputs}, actor=alice)

    assert _item().run_inputs == inputs
    (event,) = AuditEvent.objects.filter(action="goals.catalogue_item_changed")
    assert event.data["changes"] == {"run_inputs": [{}, inputs]}


@pytest.mark.django_db
def test_disabling_is_audited_and_an_edit_that_changes_nothing_writes_nothing(alice):
    item = _item()
    catalogue_item_update(item_id=item.pk, values={"unit_cost": Decimal("3")}, actor=alice)
    assert not AuditEvent.objects.filter(action="goals.catalogue_item_changed").exists()

    catalogue_item_update(item_id=item.pk, values={"enabled": False}, actor=None)

    (event,) = AuditEvent.objects.filter(action="goals.catalogue_item_changed")
    assert event.actor is None and event.data["changes"] == {"enabled": [True, False]}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("values", "errors"),
    [
        (
            {"yield_per_unit": "0"},
            {"yield_per_unit": ["yield_per_unit must be above 0 and at most 1000"]},
        ),
        (
            {"yield_per_unit": "lots"},
            {"yield_per_unit": ["yield_per_unit is not a number: 'lots'"]},
        ),
        ({"unit_cost": "0.5"}, {"unit_cost": ["unit_cost has more decimals than JPY has"]}),
        ({"unit_cost": "-1"}, {"unit_cost": ["unit_cost must not be negative"]}),
        (
            {"max_per_day": 0},
            {"max_per_day": ["max_per_day must be a whole number of at least 1, got 0"]},
        ),
        (
            {"yield_per_unit": "0.0000001"},
            {"yield_per_unit": ["yield_per_unit has more than 6 decimals"]},
        ),
        ({"enabled": "yes"}, {"enabled": ["enabled must be true or false, got 'yes'"]}),
        ({"title": "x"}, {"__all__": ["these fields cannot be changed here: title"]}),
        (
            {"run_inputs": ["https://crm.example.com"]},
            {"run_inputs": ["run_inputs must be a JSON object of input names to values"]},
        ),
        (
            {"run_inputs": {"sends_per_day": 10}},
            {"run_inputs": ["run_inputs cannot set 'sends_per_day': the planner sets the volume"]},
        ),
        (
            {"run_inputs": {"email_api_key": "sk-live-1", "language": {"a": 1}}},
            {
                "run_inputs": [
                    "run_inputs 'email_api_key' looks like a credential: run inputs are stored "
                    "with every run, so keep passwords and API keys out of them",
                    "run_inputs 'language' must be text, a number or true/false",
                ]
            },
        ),
        (
            {"yield_per_unit": "-1", "max_per_day": True},
            {
                "yield_per_unit": ["yield_per_unit must be above 0 and at most 1000"],
                "max_per_day": ["max_per_day must be a whole number of at least 1, got True"],
            },
        ),
    ],
)
def test_a_bad_edit_names_each_field_and_saves_nothing(alice, values, errors):
    item = _item()
    before = catalogue_item_dict(item)

    with pytest.raises(CatalogueItemInvalid) as caught:
        catalogue_item_update(item_id=item.pk, values=values, actor=alice)

    assert caught.value.errors == errors
    assert catalogue_item_dict(_item()) == before
    assert not AuditEvent.objects.filter(action="goals.catalogue_item_changed").exists()


@pytest.mark.django_db
def test_a_person_without_the_change_permission_is_refused(bob):
    item = _item()
    with pytest.raises(PermissionDenied):
        catalogue_item_update(item_id=item.pk, values={"max_per_day": 10}, actor=bob)
    assert _item().max_per_day == 50
