"""GET /api/v1/blocks and /blocks/{slug}: the catalogue, filtered, paged, by permission."""

from __future__ import annotations

import pytest

from tests.workflows.api_helpers import bearer, catalogue  # noqa: F401  (the fixture, used by name)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("catalogue")]


def test_it_lists_every_block_in_slug_order(alice):
    response = bearer(alice).get("/api/v1/blocks")

    assert response.status_code == 200
    body = response.json()
    assert [block["slug"] for block in body["data"]] == ["t-ask", "t-echo", "t-post"]
    assert body["next_cursor"] is None
    assert body["data"][2] == {
        "slug": "t-post",
        "name": "Post",
        "category": "integration",
        "description": "Sends a request out.",
        "side_effects": True,
        "can_be_tool": True,
    }


def test_it_filters_by_category(alice):
    body = bearer(alice).get("/api/v1/blocks?category=ai").json()
    assert [block["slug"] for block in body["data"]] == ["t-ask"]


def test_it_searches_names_and_descriptions_case_blind(alice):
    client = bearer(alice)
    assert [b["slug"] for b in client.get("/api/v1/blocks?search=MODEL").json()["data"]] == [
        "t-ask"
    ]
    assert [b["slug"] for b in client.get("/api/v1/blocks?search=echo").json()["data"]] == [
        "t-echo"
    ]
    assert client.get("/api/v1/blocks?search=nothing-like-it").json()["data"] == []


def test_it_pages_with_a_cursor(alice):
    client = bearer(alice)
    first = client.get("/api/v1/blocks?limit=2").json()
    assert [b["slug"] for b in first["data"]] == ["t-ask", "t-echo"]
    assert first["next_cursor"]

    second = client.get(f"/api/v1/blocks?limit=2&cursor={first['next_cursor']}").json()
    assert [b["slug"] for b in second["data"]] == ["t-post"]
    assert second["next_cursor"] is None


def test_it_refuses_a_limit_over_100_naming_it(alice):
    response = bearer(alice).get("/api/v1/blocks?limit=101")

    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["code"] == "TYPE"
    assert error["path"] == "limit"


def test_it_refuses_a_cursor_it_did_not_make(alice):
    response = bearer(alice).get("/api/v1/blocks?cursor=bm9wZQ")

    assert response.status_code == 400
    assert response.json()["errors"][0]["path"] == "cursor"


def test_it_shows_one_block_with_its_schemas(alice):
    response = bearer(alice).get("/api/v1/blocks/t-echo")

    assert response.status_code == 200
    body = response.json()
    assert body["slug"] == "t-echo"
    assert body["config_schema"]["properties"] == {"text": {"type": "string"}}
    assert body["input_schema"] == {"type": "object"}


def test_it_answers_404_for_an_unknown_block(alice):
    assert bearer(alice).get("/api/v1/blocks/nope").status_code == 404


def test_bob_may_read_the_catalogue(bob):
    assert bearer(bob).get("/api/v1/blocks").status_code == 200
    assert bearer(bob).get("/api/v1/blocks/t-echo").status_code == 200


def test_charlie_is_refused_403(charlie):
    response = bearer(charlie).get("/api/v1/blocks")
    assert response.status_code == 403
    assert "workflows.view_workflow" in response.json()["detail"]
    assert bearer(charlie).get("/api/v1/blocks/t-echo").status_code == 403


def test_nobody_is_refused_401(client):
    assert client.get("/api/v1/blocks").status_code == 401
    assert client.get("/api/v1/blocks/t-echo").status_code == 401
