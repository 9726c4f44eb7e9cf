"""The README's Workflows and REST API sections stay true to the code.

The block table lists exactly the registered blocks (slug, category, config keys, tool
or not), the JSON example passes the validator, every example file is described, and
the curl example works: its paths are in the OpenAPI document, and played in order
against the API (a token of alice's) each call answers as its comment says.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest

import workflows.blocks  # noqa: F401  (registers every block)
from tests.workflows.api_helpers import bearer
from workflows.blocks.base import Block, blocks_all
from workflows.graph import graph_validate
from workflows.models import Run, Workflow

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _section(title: str, level: str = "##") -> str:
    """The README's text under ``title`` up to the next heading of the same level or above."""
    start = README.index(f"\n{level} {title}\n")
    heading = re.compile(rf"\n#{{2,{len(level)}}} ")
    ends = [m.start() for m in heading.finditer(README[start + 1 :])]
    return README[start : start + 1 + ends[0]] if ends else README[start:]


def _product_blocks() -> dict[str, Block]:
    """The shipped blocks (tests register their own doubles in the same registry)."""
    return {
        slug: block
        for slug, block in blocks_all().items()
        if type(block).__module__.startswith("workflows.blocks.")
    }


def _table_rows(text: str) -> list[list[str]]:
    rows = []
    for line in text.splitlines():
        if line.startswith("| `"):
            rows.append([cell.strip() for cell in line.strip().strip("|").split(" | ")])
    return rows


def _code_blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, re.DOTALL)


def test_the_readme_still_starts_with_the_two_set_up_commands():
    first = _code_blocks(README, "sh")[0].splitlines()
    assert [line.split("#")[0].strip() for line in first] == ["make run", "make test"]


def test_the_block_table_lists_every_registered_block_as_it_is():
    rows = _table_rows(_section("Block catalogue", "###"))
    blocks = _product_blocks()

    listed = {row[0].strip("`"): row for row in rows}
    assert set(listed) == set(blocks), "README block table out of date"
    for slug, (_, category, what, keys, tool, effects) in listed.items():
        block = blocks[slug]
        assert category == block.category, slug
        assert what, slug
        schema = block.config_schema
        names = {key.strip("`*") for key in keys.split(", ")}
        required = {key.strip("`*") for key in keys.split(", ") if key.endswith("*")}
        assert names == set(schema["properties"]), slug
        assert required == set(schema.get("required", [])), slug
        assert tool == ("yes" if block.can_be_tool else "no"), slug
        assert effects.startswith("yes" if block.side_effects else "no"), slug


def test_the_json_example_is_a_valid_document():
    (example,) = _code_blocks(_section("Workflows"), "json")
    assert graph_validate(json.loads(example)) == []


def test_every_example_file_is_described():
    text = _section("Example workflows", "###")
    files = sorted(p.name for p in (ROOT / "workflows" / "examples").glob("*.json"))
    assert files == [
        "bookkeeping-classifier.json",
        "notify.json",
        "research-writer.json",
        "support-bot.json",
    ]
    for name in files:
        assert f"`{name}`" in text, name


def test_the_workflow_sections_link_nothing_outside_the_repository():
    text = _section("Workflows") + _section("REST API")
    for url in re.findall(r"https?://[^\s\"'`)]+", text):
        host = re.sub(r"^https?://", "", url).split("/")[0].split(":")[0]
        assert host == "127.0.0.1" or host.endswith(".example.invalid"), url


# -- the curl example ------------------------------------------------------------------------


def _curl_example() -> list[str]:
    """The REST API section's shell example, one command per entry (continuations joined)."""
    (block,) = _code_blocks(_section("REST API"), "sh")
    return [line for line in block.replace("\\\n", " ").splitlines() if line.strip()]


def _curl(line: str, values: dict[str, str]) -> tuple[str, str, Any]:
    """(method, path, body) of one curl line, its ``$NAME``s replaced by ``values``."""
    words = shlex.split(line, comments=True)
    assert words[0] == "curl"
    body = None
    url = ""
    index = 1
    while index < len(words):
        word = words[index]
        if word in ("-H", "-d"):
            if word == "-d":
                data = words[index + 1]
                body = (
                    json.loads((ROOT / data[1:]).read_text(encoding="utf-8"))
                    if data.startswith("@")
                    else json.loads(data)
                )
            index += 2
            continue
        url = word
        index += 1
    for name, value in values.items():
        url = url.replace(f"${name}", value)
    assert "$" not in url, url
    return ("post" if body is not None else "get"), url, body


def _openapi_path(schema: dict[str, Any], method: str, path: str) -> str | None:
    for template, operations in schema["paths"].items():
        pattern = "^" + re.sub(r"\\\{[^}]+\\\}", r"[^/]+", re.escape(template)) + "$"
        if re.match(pattern, path) and method in operations:
            return template
    return None


@pytest.mark.django_db
def test_the_curl_example_works_against_the_api(client, alice):
    lines = _curl_example()
    assert lines[0] == (
        "TOKEN=$(.venv/bin/python manage.py api_token create --user alice --name curl)"
    )
    api = re.fullmatch(r"API=(\S+)", lines[1])
    assert api is not None and api.group(1) == "http://127.0.0.1:8080/api/v1"
    schema = client.get("/api/v1/openapi.json").json()
    api_client = bearer(alice, name="curl")
    values = {"API": "http://127.0.0.1:8080/api/v1"}
    last: Any = None
    called = []
    for line in lines[2:]:
        assigned = re.match(r"^(WORKFLOW|RUN)=", line)
        if assigned:
            values[assigned.group(1)] = str(last["id"])  # "that id", as the comment says
            continue
        method, url, body = _curl(line, values)
        path, _, query = url.removeprefix("http://127.0.0.1:8080").partition("?")
        template = _openapi_path(schema, method, path)
        assert template is not None, f"{method.upper()} {path} is not in the OpenAPI document"
        target = f"{path}?{query}" if query else path
        if method == "post":
            response = api_client.post(target, data=body, content_type="application/json")
        else:
            response = api_client.get(target)
        assert response.status_code in (200, 201, 202), (line, response.content)
        last = response.json()
        called.append((method, template, response.status_code))

    assert called == [
        ("get", "/api/v1/blocks", 200),
        ("post", "/api/v1/workflows", 201),
        ("post", "/api/v1/workflows/{workflow_id}/runs", 202),
        ("get", "/api/v1/runs/{run_id}", 200),
    ]
    workflow = Workflow.objects.get()
    assert (workflow.key, workflow.status) == ("notify", Workflow.Status.DRAFT)
    run = Run.objects.get()
    assert run.is_test and run.input["message"] == "From curl."
    assert last["id"] == run.pk and len(last["step_runs"]) == 1
