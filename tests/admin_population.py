"""Rows for every admin changelist, in bulk: the admin query-count tests and
``benchmarks/admin.py`` (100,000 ideas, 10,000 decisions, 110,000 audit events) grow the
same tables the same way.

Each batch brings its own users, themes and tasks, so a changelist that looks a related
row up per line (who decided, which theme, which task) makes more queries the more rows
it shows: that is what the tests catch.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import uuid
from decimal import Decimal

from django.contrib.auth.models import User
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone

from decisions.models import AuditEvent, Budget, BudgetSpend, Decision, SheetRow
from goals.models import Iteration, Task
from ideas.models import Idea, IdeaRefusal, Snapshot, Tag, Theme
from tests.ideas.factories import ThemeFactory

_batch = itertools.count(1)


def _bulk(model, rows: list, size: int = 5000) -> None:
    model.objects.bulk_create(rows, batch_size=size)


def admin_population_grow(
    *,
    rows: int,
    ideas: int | None = None,
    decisions: int | None = None,
    audit_events: int | None = None,
) -> None:
    """Add ``rows`` rows to every listed table (or the given counts for the big three)."""
    batch = next(_batch)
    now = timezone.now()
    users = [
        User(username=f"person-{batch}-{n}", email=f"p{batch}-{n}@example.com")
        for n in range(min(rows, 50))
    ]
    _bulk(User, users)
    users = list(User.objects.filter(username__startswith=f"person-{batch}-"))
    themes = [ThemeFactory(status=Theme.Status.ARCHIVED) for _ in range(min(rows, 20))]
    active = Theme.objects.filter(status=Theme.Status.ACTIVE).first() or ThemeFactory()
    tags = Tag.objects.bulk_create([Tag(theme=active, name=f"tag-{batch}-{n}") for n in range(5)])

    def user(n: int) -> User:
        return users[n % len(users)]

    def theme(n: int) -> Theme:
        return themes[n % len(themes)]

    n_ideas = rows if ideas is None else ideas
    _bulk(
        Idea,
        [
            Idea(
                theme=active,
                title=f"Admin idea {batch}-{n}",
                summary="A calm product for tired workers.",
                fingerprint=hashlib.sha256(f"admin idea {batch}-{n}".encode()).hexdigest(),
                brand_fit=float(n % 11),
                priority=float(n % 97),
                status=Idea.VISIBLE_STATUSES[n % 3],
                reviewed_at=now if n % 10 == 0 else None,
            )
            for n in range(n_ideas)
        ],
    )
    new_ideas = list(
        Idea.objects.filter(title__startswith=f"Admin idea {batch}-").values_list("pk", flat=True)
    )
    through = Idea.tags.through
    _bulk(through, [through(idea_id=pk, tag_id=tags[pk % 5].pk) for pk in new_ideas], 10000)
    _bulk(
        IdeaRefusal,
        [
            IdeaRefusal(
                theme=theme(n),
                title=f"Refused {batch}-{n}",
                fingerprint=f"{batch}-{n}",
                data={"title": "x"},
                reasons=["taboo"],
            )
            for n in range(rows)
        ],
    )
    base = (
        Snapshot.objects.order_by("-iteration_count")
        .values_list("iteration_count", flat=True)
        .first()
        or 0
    ) + 1
    _bulk(
        Snapshot,
        [
            Snapshot(
                theme=theme(n), iteration_count=base + n, markdown="# Portfolio", stats={"ideas": n}
            )
            for n in range(rows)
        ],
    )
    tasks = [
        Task(theme=theme(n), kind=Task._meta.get_field("kind").choices[n % 4][0], brief=f"task {n}")
        for n in range(rows)
    ]
    _bulk(Task, tasks)
    tasks = list(Task.objects.order_by("-pk")[:rows])
    first_number = (
        Iteration.objects.order_by("-number").values_list("number", flat=True).first() or 0
    ) + 1
    _bulk(
        Iteration,
        [
            Iteration(
                theme=theme(n),
                task=tasks[n % len(tasks)],
                number=first_number + n,
                role="critic",
                mode="deepen",
                outcome="ok",
                started_at=now - dt.timedelta(minutes=n),
                finished_at=now - dt.timedelta(minutes=n),
            )
            for n in range(rows)
        ],
    )
    n_decisions = rows if decisions is None else decisions
    statuses = [s for s, _ in Decision.Status.choices]
    _bulk(
        Decision,
        [
            Decision(
                kind="anomaly",
                title=f"Decision {batch}-{n}",
                situation="Something happened.",
                action="tests.record",
                action_digest=hashlib.sha256(f"{batch}-{n}".encode()).hexdigest(),
                status=statuses[n % len(statuses)],
                requested_at=now - dt.timedelta(hours=n % 2000),
                due_at=now - dt.timedelta(hours=n % 2000) + dt.timedelta(hours=1 + n % 48),
                requested_by=user(n),
                decided_by=user(n + 1) if n % 2 else None,
                decided_at=now if n % 2 else None,
            )
            for n in range(n_decisions)
        ],
    )
    decision_type = ContentType.objects.get_for_model(Decision)
    n_events = rows if audit_events is None else audit_events
    _bulk(
        AuditEvent,
        [
            AuditEvent(
                uuid=uuid.uuid4(),
                action="decision.requested",
                actor=user(n) if n % 3 else None,
                subject_type=decision_type,
                subject_id=str(n),
                subject_repr=f"Decision {n}",
                data={"n": n},
                created_at=now - dt.timedelta(minutes=n % 500_000),
            )
            for n in range(n_events)
        ],
    )
    idea_type = ContentType.objects.get_for_model(Idea)
    budgets = [
        # Each scoped to its own idea: one budget per scope, period and currency.
        Budget(
            name=f"Budget {batch}-{n}",
            limit=Decimal("100"),
            scope_type=idea_type,
            scope_id=new_ideas[n % len(new_ideas)],
        )
        for n in range(min(rows, len(new_ideas)))
    ]
    _bulk(Budget, budgets)
    budgets = list(Budget.objects.filter(name__startswith=f"Budget {batch}-"))
    _bulk(
        BudgetSpend,
        [BudgetSpend(budget=b, amount=Decimal("1.50"), source="test") for b in budgets],
    )
    _bulk(
        SheetRow,
        [SheetRow(tab="Decisions", uuid=uuid.uuid4(), values=["a", n]) for n in range(rows)],
    )
