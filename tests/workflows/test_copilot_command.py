"""``manage.py copilot --workflow ID "message"``: prints the answer, edits and validation."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from tests.fake_gptoss import FakeReply
from tests.workflows.copilot_helpers import (  # noqa: F401
    HTTP_STEP,
    fake_fixture,
    internal_api_fixture,
    target_create,
)
from workflows.models import Run

pytestmark = pytest.mark.django_db(transaction=True)


def run_command(*args: str) -> str:
    out = io.StringIO()
    call_command("copilot", *args, stdout=out)
    return out.getvalue()


def test_the_command_prints_the_answer_the_edits_and_the_validation(alice, internal_api, fake):
    target = target_create()
    step = {**HTTP_STEP, "edges": [{"from": "prepare", "port": "out", "to": "notify_api"}]}
    fake.enqueue(
        FakeReply(tool_calls=[("create_step", {"workflow_id": target.pk, "step": step})]),
        FakeReply(final="Added notify_api."),
    )

    printed = run_command("--workflow", str(target.pk), "--user", "alice", "add an http step")

    assert printed.startswith("Added notify_api.\n")
    assert "step_added notify_api" in printed
    assert "edge_added prepare:out -> notify_api" in printed
    assert "Validation: valid" in printed
    assert Run.objects.get().status == "succeeded"


def test_a_failed_run_exits_1_and_says_the_edits_were_undone(alice, internal_api, fake):
    target = target_create()
    step = {**HTTP_STEP, "edges": [{"from": "prepare", "port": "out", "to": "notify_api"}]}
    fake.enqueue(
        FakeReply(tool_calls=[("create_step", {"workflow_id": target.pk, "step": step})]),
        *[FakeReply(failure="malformed_harmony") for _ in range(6)],
    )
    out = io.StringIO()
    with pytest.raises(SystemExit) as exited:
        call_command(
            "copilot", "--workflow", str(target.pk), "--user", "alice", "add it", stdout=out
        )
    assert exited.value.code == 1
    assert "undone" in out.getvalue()
    assert "Edits: none" in out.getvalue()
    assert not target.steps.filter(name="notify_api").exists()


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--workflow", "999999", "--user", "alice", "hi"], "no workflow #999999"),
        (["--workflow", "1", "--user", "nobody", "hi"], "no active user named 'nobody'"),
        (["--workflow", "1", "hi"], "--user"),
    ],
)
def test_bad_arguments_are_named(alice, args, says):
    with pytest.raises(CommandError, match=says):
        run_command(*args)
    assert not Run.objects.exists()


def test_an_empty_message_is_refused(alice):
    target = target_create()
    with pytest.raises(CommandError, match="message"):
        run_command("--workflow", str(target.pk), "--user", "alice", "  ")
