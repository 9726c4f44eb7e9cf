"""Factories for goals tests: an active theme on the example brand, ideas, tasks."""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path

import factory
from django.utils import timezone
from factory.django import DjangoModelFactory

from goals.models import Task
from ideas.models import Idea, IPProfile, Theme

EXAMPLE = Path(__file__).resolve().parents[2] / "ideas" / "example_theme"


def example_config() -> dict:
    return json.loads((EXAMPLE / "config.json").read_text(encoding="utf-8"))


def example_profile() -> dict:
    return json.loads((EXAMPLE / "ip_profile.json").read_text(encoding="utf-8"))


def _sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


class IPProfileFactory(DjangoModelFactory):
    class Meta:
        model = IPProfile

    name = factory.Sequence(lambda n: f"Mochiusa {n}")
    status = IPProfile.Status.ACTIVE
    activated_at = factory.LazyFunction(timezone.now)
    essence = factory.LazyFunction(lambda: example_profile()["essence"])
    core_personality = factory.LazyFunction(lambda: example_profile()["core_personality"])
    visual_motifs = factory.LazyFunction(lambda: example_profile()["visual_motifs"])
    taboos = factory.LazyFunction(lambda: example_profile()["taboos"])
    target_audience = factory.LazyFunction(lambda: example_profile()["target_audience"])
    brand_promise = factory.LazyFunction(lambda: example_profile()["brand_promise"])
    canon_examples = factory.LazyFunction(lambda: example_profile()["canon_examples"])
    content_sha256 = factory.Sequence(lambda n: _sha(f"profile {n}"))


def theme_config(**policy) -> dict:
    config = copy.deepcopy(example_config())
    config["iteration_policy"].update({"duty_cycle": 1.0, **policy})
    return config


class ThemeFactory(DjangoModelFactory):
    class Meta:
        model = Theme

    name = factory.Sequence(lambda n: f"Theme {n}")
    ip_profile = factory.SubFactory(IPProfileFactory)
    config = factory.LazyFunction(theme_config)
    config_sha256 = factory.Sequence(lambda n: _sha(f"config {n}"))
    status = Theme.Status.ACTIVE
    activated_at = factory.LazyFunction(timezone.now)


class IdeaFactory(DjangoModelFactory):
    class Meta:
        model = Idea

    theme = factory.SubFactory(ThemeFactory)
    title = factory.Sequence(lambda n: f"Idea number {n}")
    summary = factory.LazyAttribute(lambda o: f"{o.title}: a calm product for tired workers.")
    target_audience = "Working women in their 20s and 30s"
    value_proposition = "A small reward at the end of a hard day."
    revenue_model = "¥2,400 per unit, 300-unit lot"
    fingerprint = factory.LazyAttribute(lambda o: _sha(o.title.lower()))


class TaskFactory(DjangoModelFactory):
    class Meta:
        model = Task

    theme = factory.SubFactory(ThemeFactory)
    kind = "generate"
    priority = 50
