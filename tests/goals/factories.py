"""Factories for goals tests: tasks, on ideas' factories (the real idea fingerprint).

The brand, themes and ideas come from ``tests.ideas.factories``; goals only changes
what its loop tests need: a theme whose loop never rests (duty cycle 1.0), and ideas
pitched like the loop's own answers.
"""

from __future__ import annotations

import factory
from factory.django import DjangoModelFactory

from goals.models import Task
from tests.ideas import factories as ideas


def theme_config(**policy) -> dict:
    """The example theme's config, with a loop that never rests unless told to."""
    return ideas.example_config(**{"duty_cycle": 1.0, **policy})


class ThemeFactory(ideas.ThemeFactory):
    config = factory.LazyFunction(theme_config)


class IdeaFactory(ideas.IdeaFactory):
    theme = factory.SubFactory(ThemeFactory)
    summary = factory.LazyAttribute(lambda o: f"{o.title}: a calm product for tired workers.")
    target_audience = "Working women in their 20s and 30s"
    value_proposition = "A small reward at the end of a hard day."
    revenue_model = "¥2,400 per unit, 300-unit lot"


class TaskFactory(DjangoModelFactory):
    class Meta:
        model = Task

    theme = factory.SubFactory(ThemeFactory)
    kind = "generate"
    priority = 50


def catalogue_rows_seed() -> list:
    """The catalogue rows migration 0010 seeds, again: a ``transaction=True`` test
    (browser, qcluster) flushes them. Calls the migration's own seed function, so the rows
    are the shipped ones; a row that is there is left alone."""
    from importlib import import_module

    from django.apps import apps as django_apps

    from goals.models import CatalogueItem

    import_module("goals.migrations.0010_catalogue_seed").catalogue_seed(django_apps, None)
    return list(CatalogueItem.objects.order_by("key"))


def catalogue_published(*, actor, run_inputs: dict | None = None) -> None:
    """The shipped catalogue workflows installed and each published the way a person
    does it (its publishing decision approved and applied); ``run_inputs`` maps a
    catalogue key to the run inputs configured on its item."""
    from decisions.models import Decision
    from decisions.services import decision_apply, decision_approve
    from goals.models import CatalogueItem
    from goals.services.catalogue import catalogue_workflows_install
    from tests.workflows.factories import approver
    from workflows.models import Workflow
    from workflows.selectors import publish_decision_pending
    from workflows.services.definitions import workflow_publish

    catalogue_workflows_install(actor=actor)
    for workflow in Workflow.objects.filter(status=Workflow.Status.DRAFT):
        workflow = workflow_publish(workflow_id=workflow.pk, actor=actor)
        pending = publish_decision_pending(workflow=workflow)
        if pending is not None:
            decision_approve(decision_id=pending.pk, user=approver())
            assert decision_apply(decision_id=pending.pk).status == Decision.Status.APPLIED
    for key, inputs in (run_inputs or {}).items():
        CatalogueItem.objects.filter(key=key).update(run_inputs=inputs)


def services_approved_before(*, hosts: list[str], actor) -> None:
    """History: an earlier goal's plan calling ``hosts`` was approved by ``actor``, so a
    plan calling them now is no new integration (``goals.services.plans``)."""
    import datetime as dt

    from django.utils import timezone

    from goals.models import Goal, PlanRevision

    earlier = Goal.objects.create(
        text="先月の目標",
        metric="revenue",
        target_amount=1_000_000,
        currency="JPY",
        period_start=dt.date(2026, 1, 1),
        period_end=dt.date(2026, 1, 31),
        status=Goal.Status.ACHIEVED,
    )
    PlanRevision.objects.create(
        goal=earlier,
        number=1,
        document={"actions": [], "hosts": sorted(hosts)},
        approved_by=actor,
        approved_at=timezone.now(),
    )
