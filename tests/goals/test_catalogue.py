"""The workflow catalogue: the shipped entries load, and bad entries say what is wrong."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from goals.catalogue import CatalogueError, catalogue_entry_from_dict, catalogue_load
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
    entries = {entry.key: entry for entry in catalogue_load()}
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
