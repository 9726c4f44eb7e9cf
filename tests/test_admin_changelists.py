"""Every admin changelist makes the same, small number of queries however many rows it shows.

A changelist that looks a related row up per line (who decided, which theme, which
task) or groups the whole table by date grows with the data: at 10,000 decisions the
decisions list made 74 queries. Each list is opened on a few rows and again after many
more rows (from more people, themes and tasks) were added; the query count must not
move and must stay at most ``MAX_QUERIES``. Timings at 100,000 ideas, 10,000 decisions
and 110,000 audit events are in ``benchmarks/admin.py``.
"""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.admin_population import admin_population_grow

pytestmark = pytest.mark.django_db

MAX_QUERIES = 15


def _changelists() -> list[str]:
    return [
        reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        for model in admin.site._registry
    ]


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code in (200, 302), (url, response.status_code)
    return len(captured)


def _all_counts(client) -> dict[str, int]:
    urls = _changelists()
    for url in urls:  # warm the per-process caches (content types, permissions)
        client.get(url)
    return {url: _queries(client, url) for url in urls}


@pytest.fixture
def superuser(client, django_user_model):
    user = django_user_model.objects.create_superuser("alice", "alice@example.com", "pw-alice-1")
    client.force_login(user)
    return user


def test_every_changelist_makes_the_same_few_queries_at_any_size(client, superuser):
    admin_population_grow(rows=3)
    small = _all_counts(client)
    admin_population_grow(rows=40)
    large = _all_counts(client)
    grew = {url: (small[url], large[url]) for url in small if large[url] != small[url]}
    assert grew == {}
    over = {url: n for url, n in large.items() if n > MAX_QUERIES}
    assert over == {}


@pytest.mark.parametrize(
    "url",
    [
        "/admin/decisions/auditevent/",
        "/admin/decisions/decision/",
        "/admin/goals/iteration/",
        "/admin/ideas/snapshot/",
    ],
)
def test_the_date_lists_filter_by_date_without_grouping_the_table(client, superuser, url):
    admin_population_grow(rows=5)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    grouped = [q["sql"] for q in captured if "DISTINCT" in q["sql"] and "trunc" in q["sql"].lower()]
    assert grouped == []
    # A date filter in the sidebar ("Any date", "Today", "Past 7 days", ...), and no
    # date hierarchy (its year/month/day links need a DISTINCT over every row's date).
    assert "Past 7 days" in html
    assert 'class="xfull"' not in html and "date_hierarchy" not in html


def test_the_budget_list_sums_only_each_budgets_own_period(client, superuser):
    from datetime import timedelta
    from decimal import Decimal

    from django.utils import timezone

    from decisions.models import Budget, BudgetSpend

    monthly = Budget.objects.create(name="Monthly", limit=Decimal("1000"), period="monthly")
    daily = Budget.objects.create(name="Daily", limit=Decimal("500"), period="daily")
    now = timezone.now()
    for budget, amount, when in [
        (monthly, "300", now),
        (monthly, "7000", now - timedelta(days=400)),  # a past period: not counted
        (daily, "40", now),
        (daily, "900", now - timedelta(days=2)),
    ]:
        BudgetSpend.objects.create(budget=budget, amount=Decimal(amount), source="t", spent_at=when)
    html = client.get("/admin/decisions/budget/").content.decode()
    assert "<small>300 / 1000.00 JPY (30%)" in html
    assert "<small>40 / 500.00 JPY (8%)" in html
