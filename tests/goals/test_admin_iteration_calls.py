"""Admin: the iteration page shows what each model call cost and what was normalised."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from goals.models import Iteration

pytestmark = pytest.mark.django_db


def test_the_iteration_page_shows_every_calls_tokens_and_the_normalisations(client, alice, theme):
    now = timezone.now()
    it = Iteration.objects.create(
        theme=theme,
        number=1,
        role="ideator",
        mode="explore",
        outcome="repaired",
        started_at=now,
        finished_at=now,
        prompt_tokens=3101,
        completion_tokens=222,
        model_calls=2,
        calls=[
            {
                "purpose": "main",
                "prompt_tokens": 1500,
                "completion_tokens": 111,
                "cached_tokens": None,
                "attempts": 1,
                "error_class": "schema_violation",
            },
            {
                "purpose": "repair",
                "prompt_tokens": 1601,
                "completion_tokens": 111,
                "cached_tokens": 1488,
                "attempts": 1,
                "error_class": "",
            },
        ],
        normalisations=['$.ideas[0].tags: removed 1 duplicate item ("<tea>")'],
    )
    client.force_login(alice)
    html = client.get(reverse("admin:goals_iteration_change", args=[it.pk])).content.decode()
    assert (
        "<td>main</td><td>1500</td><td>111</td><td>-</td><td>1</td><td>schema_violation</td>"
        in html
    )
    assert "<td>repair</td><td>1601</td><td>111</td><td>1488</td><td>1</td><td>ok</td>" in html
    assert "normalised instead of a repair call" in html.lower()
    assert "removed 1 duplicate item (&quot;&lt;tea&gt;&quot;)" in html  # escaped, not markup
    listing = client.get(reverse("admin:goals_iteration_changelist")).content.decode()
    assert 'class="field-model_calls">2<' in listing
