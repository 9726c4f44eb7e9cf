"""``manage.py workflow``: import (and publish), export, validate; run after exec lands."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from decisions.models import Decision
from tests.workflows.factories import blocks_stand_in, document, set_step, workflow_published
from workflows.models import Edge, Step, Workflow
from workflows.selectors import workflow_document
from workflows.services.definitions import step_add, workflow_delete

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _blocks():
    yield from blocks_stand_in()


def _call(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("workflow", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def _file(tmp_path: Path, doc: object, name: str = "wf.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(doc), encoding="utf-8")
    return str(path)


def test_import_prints_the_new_id(tmp_path):
    out, _ = _call("import", _file(tmp_path, document()))

    workflow = Workflow.objects.get()
    assert out.strip() == str(workflow.pk)
    assert workflow.status == Workflow.Status.DRAFT and workflow.steps.count() == 2


def test_import_and_publish_a_new_workflow_asks_a_person(tmp_path):
    out, _ = _call("import", _file(tmp_path, document()), "--publish")

    workflow = Workflow.objects.get()
    decision = Decision.objects.get()
    assert workflow.status == Workflow.Status.PENDING_APPROVAL
    assert out.splitlines() == [
        str(workflow.pk),
        f"waiting for approval: decision #{decision.pk} decides whether support-bot v1 "
        "is published",
    ]


def test_import_of_an_invalid_document_prints_every_problem_and_saves_nothing(tmp_path):
    bad = document(
        steps=[set_step("Greet"), set_step("reply")],
        edges=[{"from": "reply", "port": "out", "to": "nowhere"}],
    )
    err = io.StringIO()

    with pytest.raises(CommandError) as caught:
        call_command("workflow", "import", _file(tmp_path, bad), stderr=err, stdout=io.StringIO())

    assert caught.value.returncode == 2
    lines = err.getvalue().splitlines()
    # CODE step path: message (the step is "-" where the problem belongs to no step).
    assert any(line.startswith("BAD_NAME ") and " steps.0.name: " in line for line in lines), lines
    assert any(line.startswith("UNKNOWN_STEP ") and "edges.0.to" in line for line in lines)
    assert (Workflow.objects.count(), Step.objects.count(), Edge.objects.count()) == (0, 0, 0)


def test_a_file_that_is_not_json_is_said_so(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text("{ nope", encoding="utf-8")
    err = io.StringIO()

    with pytest.raises(CommandError) as caught:
        call_command("workflow", "import", str(path), stderr=err, stdout=io.StringIO())

    assert caught.value.returncode == 2
    assert err.getvalue().startswith("JSON - line 1 column 3: not JSON")
    assert not Workflow.objects.exists()


def test_export_round_trips_through_import(tmp_path):
    v1 = workflow_published(document(key="helpdesk", is_system=True))
    v2 = step_add(
        workflow_id=v1.pk, step=set_step("bye", after="reply", retry={"attempts": 2}), actor=None
    )
    exported, _ = _call("export", str(v2.pk))
    before = json.loads(exported)
    assert before == workflow_document(workflow=v2)

    # Into a database where the key is free again (another instance, say).
    workflow_delete(workflow_id=v2.pk, actor=None)
    Workflow.objects.filter(pk=v1.pk).delete()
    out, _ = _call("import", _file(tmp_path, before))

    again, _ = _call("export", out.strip())
    assert json.loads(again) == before


def test_export_of_an_unknown_id_fails():
    with pytest.raises(CommandError, match="no workflow #999"):
        _call("export", "999")


def test_validate_says_valid_or_lists_the_problems(tmp_path):
    out, _ = _call("validate", _file(tmp_path, document()))
    assert out.strip() == "valid"

    err = io.StringIO()
    with pytest.raises(CommandError) as caught:
        call_command(
            "workflow",
            "validate",
            _file(tmp_path, document(steps=[set_step("Bad")]), "bad.json"),
            stderr=err,
            stdout=io.StringIO(),
        )
    assert caught.value.returncode == 2
    assert err.getvalue().startswith("BAD_NAME ")
    assert " steps.0.name: " in err.getvalue()
    assert not Workflow.objects.exists()
