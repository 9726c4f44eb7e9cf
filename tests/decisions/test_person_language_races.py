"""A person's language saved from several requests at once (two tabs, a double click) on
a real database: before the first save there is no row to lock, so the saves race to
create it. Runs on SQLite in the main pass and again on PostgreSQL (``-m postgres``)."""

from __future__ import annotations

import itertools

import pytest

from decisions.models import AuditEvent, PersonSettings
from decisions.services.person import person_language, person_language_set
from tests.concurrency import run_together

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]

LANGUAGES = ("ja", "en", "ja", "en")


def test_first_saves_at_once_make_one_row_and_an_unbroken_audit_chain(alice):
    results, errors = run_together(
        lambda i: person_language_set(user=alice, language=LANGUAGES[i]), len(LANGUAGES)
    )
    assert not errors, errors  # the losers of the first insert were retried as updates
    assert PersonSettings.objects.filter(user=alice).count() == 1
    changes = list(
        AuditEvent.objects.filter(action="decisions.person_language_changed")
        .order_by("pk")
        .values_list("data", flat=True)
    )
    # One audited change per save that changed something, each from what the one
    # before it stored: no save overwrote another unseen.
    assert len(changes) == sum(results) >= 1
    assert changes[0]["from"] == ""
    assert all(a["to"] == b["from"] for a, b in itertools.pairwise(changes))
    assert person_language(user_id=alice.pk) == changes[-1]["to"]
