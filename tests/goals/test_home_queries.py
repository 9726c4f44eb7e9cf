"""The home page and each of its sections make the same few queries at any size.

Opened at a few rows, then again at 100,000 ideas and 10,000 decisions (bulk-created):
no request may grow with the data, and none may pass ``MAX_QUERIES``. The times at that
size are printed by ``benchmarks/admin.py``.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from goals.selectors_home import GOALS_SHOWN
from tests.admin_population import admin_population_grow
from tests.goals.home_setup import goal_behind
from tests.personas import persona_create

pytestmark = pytest.mark.django_db

MAX_QUERIES = 15
URLS = ["/"] + [
    reverse("home:section", args=[name])
    for name in ("needs-you", "goals", "studio", "workflows", "system")
]


def _counts(client) -> dict[str, int]:
    for url in URLS:  # warm the per-process caches (content types, permissions)
        client.get(url, HTTP_HX_REQUEST="true")
    counts = {}
    for url in URLS:
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url, HTTP_HX_REQUEST="true")
        assert response.status_code == 200, (url, response.status_code)
        counts[url] = len(captured)
    return counts


def test_the_home_page_makes_the_same_few_queries_at_100000_ideas(client):
    superuser = persona_create("alice", app="ideas")
    client.force_login(superuser)
    for n in range(GOALS_SHOWN + 2):  # more goals than the page forecasts
        goal_behind(text=f"Goal {n}", readings=n == 0)
    admin_population_grow(rows=3)
    small = _counts(client)

    admin_population_grow(rows=20, ideas=100_000, decisions=10_000, audit_events=20)
    large = _counts(client)

    assert large == small
    assert {url: n for url, n in large.items() if n > MAX_QUERIES} == {}
