"""Factories for the ideas tests: the example brand, themes, ideas, tags."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import factory
from django.utils import timezone
from factory.django import DjangoModelFactory

from ideas.models import Idea, IPProfile, PortfolioCounters, Snapshot, Tag, Theme
from ideas.services import portfolio_counters_rebuild
from ideas.services.portfolio import idea_fingerprint
from ideas.theme_files import document_sha256

EXAMPLE_DIR = Path(__file__).resolve().parents[2] / "ideas" / "example_theme"
EXAMPLE_IP_PROFILE = EXAMPLE_DIR / "ip_profile.json"
EXAMPLE_CONFIG = EXAMPLE_DIR / "config.json"


def example_profile() -> dict:
    return json.loads(EXAMPLE_IP_PROFILE.read_text(encoding="utf-8"))


def example_config(**policy) -> dict:
    config = copy.deepcopy(json.loads(EXAMPLE_CONFIG.read_text(encoding="utf-8")))
    config["iteration_policy"].update(policy)
    return config


class IPProfileFactory(DjangoModelFactory):
    class Meta:
        model = IPProfile

    name = factory.Sequence(lambda n: f"Mochiusa {n}")
    version = 1
    status = IPProfile.Status.ACTIVE
    activated_at = factory.LazyFunction(timezone.now)
    essence = factory.LazyFunction(lambda: example_profile()["essence"])
    visual_motifs = factory.LazyFunction(lambda: example_profile()["visual_motifs"])
    core_personality = factory.LazyFunction(lambda: example_profile()["core_personality"])
    taboos = factory.LazyFunction(lambda: example_profile()["taboos"])
    target_audience = factory.LazyFunction(lambda: example_profile()["target_audience"])
    brand_promise = factory.LazyFunction(lambda: example_profile()["brand_promise"])
    canon_examples = factory.LazyFunction(lambda: example_profile()["canon_examples"])
    content_sha256 = factory.LazyAttribute(lambda o: document_sha256({"name": o.name}))


class ThemeFactory(DjangoModelFactory):
    class Meta:
        model = Theme

    name = factory.Sequence(lambda n: f"Theme {n}")
    ip_profile = factory.SubFactory(IPProfileFactory)
    config = factory.LazyFunction(example_config)
    config_sha256 = factory.LazyAttribute(lambda o: document_sha256(o.config))
    status = Theme.Status.ACTIVE
    activated_at = factory.LazyFunction(timezone.now)

    @classmethod
    def _after_postgeneration(cls, instance, create, results=None) -> None:
        # As theme_activate_from_documents does: a new theme's counters start at zero.
        if create:
            PortfolioCounters.objects.get_or_create(theme=instance)


class TagFactory(DjangoModelFactory):
    class Meta:
        model = Tag
        django_get_or_create = ("theme", "name")

    theme = factory.SubFactory(ThemeFactory)
    name = factory.Sequence(lambda n: f"tag-{n}")


class IdeaFactory(DjangoModelFactory):
    class Meta:
        model = Idea
        skip_postgeneration_save = True

    theme = factory.SubFactory(ThemeFactory)
    title = factory.Sequence(lambda n: f"Idea number {n}")
    summary = factory.LazyAttribute(lambda o: f"A short pitch for {o.title}")
    target_audience = "Working women in their 20s"
    value_proposition = "A small reward at the end of the day"
    revenue_model = "Online store sales"
    fingerprint = factory.LazyAttribute(lambda o: idea_fingerprint(o.title))
    priority = 5.0

    @factory.post_generation
    def tags(self, create: bool, extracted, **kwargs) -> None:
        if create and extracted:
            self.tags.set(
                [Tag.objects.get_or_create(theme=self.theme, name=name)[0] for name in extracted]
            )

    @classmethod
    def _after_postgeneration(cls, instance, create, results=None) -> None:
        # The row went in around the services: recount the theme's portfolio counters.
        if create:
            portfolio_counters_rebuild(theme=instance.theme)


class SnapshotFactory(DjangoModelFactory):
    class Meta:
        model = Snapshot

    theme = factory.SubFactory(ThemeFactory)
    iteration_count = factory.Sequence(lambda n: (n + 1) * 10)
    markdown = "# Snapshot\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"
    stats = factory.LazyFunction(lambda: {"ideas": 0})
