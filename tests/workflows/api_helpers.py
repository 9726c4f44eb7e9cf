"""Helpers for the REST API tests: a bearer client per persona, a known block catalogue."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
from django.contrib.auth.models import User
from django.test import Client

from workflows.blocks.base import _REGISTRY, Block, BlockResult


def bearer(user: User, *, name: str = "tests") -> Client:
    """A test client that sends ``Authorization: Bearer`` with a fresh token of ``user``."""
    from workflows.services.tokens import api_token_create

    _, raw = api_token_create(user=user, name=name, actor=None)
    return Client(headers={"Authorization": f"Bearer {raw}"})


def post_json(client: Client, url: str, body: Any) -> Any:
    return client.post(url, data=body, content_type="application/json")


def put_json(client: Client, url: str, body: Any) -> Any:
    return client.put(url, data=body, content_type="application/json")


class _Echo(Block):
    slug = "t-echo"
    name = "Echo"
    category = "data"
    description = "Returns its config unchanged."
    config_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {"text": {"type": "string"}},
    }

    def run(self, *, config, input, ctx) -> BlockResult:  # type: ignore[no-untyped-def]
        return BlockResult(output=config)


class _Ask(Block):
    slug = "t-ask"
    name = "Ask the model"
    category = "ai"
    description = "Sends a prompt to the language model."
    prompt_keys = ("prompt",)


class _Post(Block):
    slug = "t-post"
    name = "Post"
    category = "integration"
    description = "Sends a request out."
    side_effects = True


TEST_BLOCKS = (_Echo, _Ask, _Post)


@pytest.fixture
def catalogue(monkeypatch) -> dict[str, Block]:
    """The block registry holding exactly the three test blocks, whatever else is registered."""
    blocks: dict[str, Block] = {cls.slug: cls() for cls in TEST_BLOCKS}
    monkeypatch.setattr(_REGISTRY, "blocks", blocks)
    return blocks
