"""The loop's prompts of every role, rendered from remembered parts, are openai-harmony's
rendering of each whole conversation (harmony_render's plain path on real prompts)."""

from __future__ import annotations

import pytest

from bizagent.llm.harmony import harmony_render
from goals.models import Iteration
from goals.services import iteration_run, task_create
from tests.bizagent.llm.test_harmony_render_remembered import forget, whole_render
from tests.goals.studio import StudioClient

pytestmark = pytest.mark.django_db


def test_the_loop_prompts_of_every_role_render_like_the_whole_conversation(theme):
    client = StudioClient()
    task_create(theme=theme, kind="generate", priority=90)
    task_create(theme=theme, kind="meta_review", priority=95)
    for _ in range(12):
        iteration_run(worker="w", scheduled=False, client=client)
    roles = set(Iteration.objects.exclude(role="").values_list("role", flat=True))
    assert len(client.requests) >= 10 and len(roles) >= 3, roles
    forget()
    for request in client.requests:
        assert harmony_render(request) == whole_render(request)
    for request in reversed(client.requests):  # now mostly from remembered parts
        assert harmony_render(request) == whole_render(request)
