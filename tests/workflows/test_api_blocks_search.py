"""GET /api/v1/blocks?search=: what the copilot's ``search_blocks`` tool asks. Every
word must appear in a shipped block's slug, name, description or catalogue lines
(English or Japanese), case-blind; the permission still applies."""

from __future__ import annotations

import pytest

from tests.workflows.api_helpers import bearer
from workflows.blocks.base import _REGISTRY
from workflows.docs import product_blocks

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def shipped_blocks(monkeypatch):
    """Only the shipped blocks (other tests register doubles in the same registry)."""
    monkeypatch.setattr(_REGISTRY, "blocks", product_blocks())


def _slugs(user, search: str) -> list[str]:
    response = bearer(user).get("/api/v1/blocks", {"search": search})
    assert response.status_code == 200
    return [block["slug"] for block in response.json()["data"]]


def test_it_finds_a_block_by_slug_name_or_description(alice):
    assert _slugs(alice, "rag-query") == ["rag-query"]
    assert _slugs(alice, "Memory Buffer") == ["memory-buffer"]
    assert _slugs(alice, "LOOPBACK addresses") == ["http"]


def test_every_word_must_match_in_any_order(alice):
    assert _slugs(alice, "headers http") == ["http"]
    assert _slugs(alice, "http nothing-like-it") == []


def test_a_japanese_word_finds_the_block_through_its_catalogue_line(alice):
    assert _slugs(alice, "ヘッダー") == ["http"]
    assert _slugs(alice, "分岐") == ["condition", "switch"]
    assert _slugs(alice, "会話") == ["memory-buffer"]


def test_a_plain_english_need_finds_the_block(alice):
    assert _slugs(alice, "branch") == ["condition", "switch"]


def test_a_blank_search_lists_every_block(alice):
    assert _slugs(alice, "   ") == sorted(product_blocks())


def test_charlie_without_the_permission_is_refused(charlie):
    response = bearer(charlie).get("/api/v1/blocks", {"search": "http"})
    assert response.status_code == 403
