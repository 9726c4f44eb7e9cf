"""Every admin changelist at 100,000 ideas, 10,000 decisions and 110,000 audit events.

Prints, per changelist: queries and the median milliseconds of a page view (and of the
audit log and decision list filtered to the past 7 days); then the same for the home page
and each of its sections. The aim: under 15 queries and
200 ms each. The tables are filled in bulk in a throwaway SQLite file (a few minutes).

    .venv/bin/python benchmarks/admin.py [--ideas 100000] [--decisions 10000]
                                         [--audit-events 110000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import time

import harness  # first: sets Django up on a throwaway database
from django.contrib import admin
from django.contrib.auth.models import User
from django.test import Client
from django.test.utils import setup_test_environment
from django.urls import reverse

from tests.admin_population import admin_population_grow


def section_fill(args: argparse.Namespace) -> None:
    started = time.perf_counter()
    admin_population_grow(
        rows=200, ideas=args.ideas, decisions=args.decisions, audit_events=args.audit_events
    )
    print(
        f"filled {args.ideas:,} ideas, {args.decisions:,} decisions, "
        f"{args.audit_events:,} audit events in {time.perf_counter() - started:.0f} s"
    )


def section_changelists(args: argparse.Namespace) -> None:
    setup_test_environment()  # the test client's host, "testserver", is allowed
    user = User.objects.create_superuser("bench", "bench@example.com", "pw-bench-123")
    client = Client()
    client.force_login(user)
    urls = [
        reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        for model in admin.site._registry
    ]
    urls += [
        "/admin/decisions/auditevent/?created_at__gte=" + _days_ago(7),
        "/admin/decisions/decision/?status__exact=pending",
        "/admin/ideas/idea/?status__exact=candidate",
    ]
    print(f"\n== admin changelists (median of {args.repeat})")
    print(f"  {'changelist':<62} {'queries':>7} {'ms':>8}")
    for url in urls:
        client.get(url)  # warm caches
        with harness.queries_counted() as seen:
            status = client.get(url).status_code
        elapsed, _ = harness.ms(lambda url=url: client.get(url), repeat=args.repeat)
        flag = "" if len(seen) <= 15 and elapsed < 200 else "  <- over the aim"
        if status not in (200, 302):
            raise SystemExit(f"{url} answered {status}")
        print(f"  {url[:62]:<62} {len(seen):>7} {elapsed:>8.1f}{flag}")


def section_home(args: argparse.Namespace) -> None:
    """The home page and each section it loads (htmx asks for them one request each).

    Runs after the changelists, which set the test environment up (allowed host)."""
    user = User.objects.filter(username="bench").first() or User.objects.create_superuser(
        "bench", "bench@example.com", "pw-bench-123"
    )
    client = Client(HTTP_HX_REQUEST="true")
    client.force_login(user)
    sections = ("needs-you", "goals", "studio", "workflows", "system")
    urls = (
        ["/"]
        + [reverse("home:section", args=[name]) for name in sections]
        + [reverse("home:studio-charts")]
    )
    print(f"\n== home page at {args.ideas:,} ideas (median of {args.repeat})")
    print(f"  {'request':<62} {'queries':>7} {'ms':>8}")
    total = 0.0
    for url in urls:
        client.get(url)  # warm caches
        with harness.queries_counted() as seen:
            status = client.get(url).status_code
        elapsed, _ = harness.ms(lambda url=url: client.get(url), repeat=args.repeat)
        total += elapsed
        flag = "" if len(seen) <= 15 and elapsed < 200 else "  <- over the aim"
        if status != 200:
            raise SystemExit(f"{url} answered {status}")
        print(f"  {url:<62} {len(seen):>7} {elapsed:>8.1f}{flag}")
    print(f"  {'the page and all its sections':<62} {'':>7} {total:>8.1f}")


def _days_ago(days: int) -> str:
    import datetime as dt

    from django.utils import timezone

    return (timezone.localdate() - dt.timedelta(days=days)).isoformat()


SECTIONS = [section_fill, section_changelists, section_home]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ideas", type=int, default=100_000)
    parser.add_argument("--decisions", type=int, default=10_000)
    parser.add_argument("--audit-events", type=int, default=110_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    for section in SECTIONS:
        section(args)


if __name__ == "__main__":
    main()
