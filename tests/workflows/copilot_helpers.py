"""Shared set-up of the copilot's tests: the live API, the fake model, a user's workflow.

The copilot's http tools call ``BIZAGENT_INTERNAL_BASE_URL``, which here is
pytest-django's ``live_server`` on loopback; the model is the fake gpt-oss server
scripted with tool calls. ``issued`` watches the real token provider, so a test can
use the very token a copilot run was given. Test modules import the fixtures as
``*_fixture`` (registered under their short names), so the names they take as
arguments do not shadow an import.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.fake_gptoss import FakeGptOss
from tests.llm_backends import llm_settings_point
from workflows.internal_token import internal_api_token_provide
from workflows.models import Workflow
from workflows.services.context import _PROVIDERS, context_provider_register
from workflows.services.definitions import workflow_create

TARGET: dict[str, Any] = {
    "name": "Order intake",
    "key": "order-intake",
    "input_schema": {
        "type": "object",
        "properties": {"order": {"type": "string"}},
        "required": ["order"],
    },
    "steps": [
        {
            "name": "prepare",
            "block": "set-variables",
            "config": {"variables": [{"name": "order", "value": "{{ input.order }}"}]},
        }
    ],
}

HTTP_STEP: dict[str, Any] = {
    "name": "notify_api",
    "block": "http",
    "config": {"method": "POST", "url": "https://hooks.example.com/orders"},
}


@pytest.fixture(name="internal_api")
def internal_api_fixture(live_server: Any, settings: Any) -> str:
    settings.INTERNAL_BASE_URL = live_server.url
    return str(live_server.url)


@pytest.fixture(name="fake")
def fake_fixture(fake_gptoss: FakeGptOss, settings: Any) -> FakeGptOss:
    llm_settings_point(settings, fake_gptoss)
    return fake_gptoss


@pytest.fixture(name="issued")
def issued_fixture() -> Iterator[list[str]]:
    """Every internal token the engine hands a run (the real provider, watched)."""
    tokens: list[str] = []
    saved = _PROVIDERS["ctx.internal_api_token"]

    def watched(ctx: Any) -> str | None:
        token = internal_api_token_provide(ctx)
        if token is not None:
            tokens.append(token)
        return token

    context_provider_register("ctx.internal_api_token", watched)
    yield tokens
    context_provider_register("ctx.internal_api_token", saved)


def target_create(document: dict[str, Any] | None = None) -> Workflow:
    """The user's draft the copilot is asked about."""
    return workflow_create(document=document or TARGET, actor=None)


def tool_results(fake: FakeGptOss, index: int) -> list[tuple[str, str]]:
    """(tool, content) of every Harmony tool message in request ``index``'s prompt."""
    return re.findall(
        r"<\|start\|>functions\.(\w+) to=assistant<\|channel\|>commentary"
        r"<\|message\|>(.*?)<\|end\|>",
        fake.requests[index].prompt_text,
        re.DOTALL,
    )
