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
