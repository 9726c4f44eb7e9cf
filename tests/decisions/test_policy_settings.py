"""The policy thresholds row exists from the migration on, and reading it writes nothing.

``policy_settings_get`` used to create the row on first read (a selector calling a
service); the data migration ``0004_policysettings_singleton`` creates it now, and the
getter only reads.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test.utils import CaptureQueriesContext

from decisions.models import AuditEvent, PolicySettings
from decisions.policy import ActionProposal, PolicyThresholds
from decisions.selectors import policy_settings_get, policy_thresholds
from decisions.services import policy_check, policy_settings_update

BEFORE = [("decisions", "0003_decision_delivery")]
AFTER = [("decisions", "0004_policysettings_singleton")]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def _writes(queries) -> list[str]:
    return [query["sql"] for query in queries if not query["sql"].lstrip().startswith("SELECT")]


@pytest.mark.django_db
def test_it_exists_after_migrate():
    row = PolicySettings.objects.get(pk=PolicySettings.SINGLETON_ID)
    assert row.mass_send_recipients == 500 and row.updated_by is None


@pytest.mark.django_db
def test_reading_the_thresholds_never_writes():
    with CaptureQueriesContext(connection) as queries:
        row = policy_settings_get()
        thresholds = policy_thresholds()
        verdict = policy_check(proposal=ActionProposal("mass_send", recipients=800))
    assert _writes(queries.captured_queries) == []
    assert row.pk == PolicySettings.SINGLETON_ID
    assert thresholds == PolicyThresholds()
    assert verdict.requires_decision


@pytest.mark.django_db
def test_a_missing_row_reads_as_the_defaults_and_is_not_created_by_reading():
    # Only a database emptied after migrate (``flush``, a transactional test) lacks it.
    PolicySettings.objects.all().delete()
    with CaptureQueriesContext(connection) as queries:
        row = policy_settings_get()
        thresholds = policy_thresholds()
    assert _writes(queries.captured_queries) == []
    assert not PolicySettings.objects.exists()
    assert row.pk == PolicySettings.SINGLETON_ID and row.mass_send_recipients == 500
    assert thresholds == PolicyThresholds()


@pytest.mark.django_db
def test_changing_a_threshold_writes_the_row_even_when_it_went_missing(alice):
    PolicySettings.objects.all().delete()
    alice.user_permissions.add(Permission.objects.get(codename="change_policysettings"))
    alice = type(alice).objects.get(pk=alice.pk)
    policy_settings_update(actor=alice, mass_send_recipients=1000)
    assert PolicySettings.objects.get().mass_send_recipients == 1000
    assert policy_thresholds().mass_send_recipients == 1000
    event = AuditEvent.objects.get(action="decisions.policy_updated")
    assert event.data == {"mass_send_recipients": {"from": "500", "to": "1000"}}


@pytest.mark.django_db(transaction=True)
def test_the_data_migration_creates_the_row_with_the_default_thresholds():
    old = _migrate(BEFORE)
    try:
        old.get_model("decisions", "PolicySettings").objects.all().delete()
    finally:
        new = _migrate(AFTER)
        _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
    row = new.get_model("decisions", "PolicySettings").objects.get()
    assert row.pk == PolicySettings.SINGLETON_ID
    defaults = PolicySettings()
    assert [getattr(row, name) for name in ("budget_overrun_fraction", "mass_send_recipients")] == [
        defaults.budget_overrun_fraction,
        defaults.mass_send_recipients,
    ]
