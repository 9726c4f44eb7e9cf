"""The example workflows in ``workflows/examples/``, end to end, as an operator runs them.

Each example is validated and imported with ``manage.py workflow`` and run with
``workflow run ID --input JSON --wait`` against the fake gpt-oss server (scripted
answers, tool calls included) and a loopback HTTP server standing in for the webhook,
the shop API and a web page. The shipped files name ``hooks.example.invalid`` and
``shop.example.invalid``; an operator edits those URLs, and these tests do the same
(pointing them at the loopback server, whose host is in BIZAGENT_HTTP_ALLOWED_HOSTS).

Publishing a new workflow is a decision: most tests approve it through the decisions
services as the decisions approver persona; one test-runs a draft instead (as a person
does while building a workflow), through the REST API.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from decisions.models import Decision
from decisions.services import decision_apply, decision_approve
from tests.fake_gptoss import FakeGptOss, FakeReply
from tests.llm_backends import llm_settings_point
from tests.personas import persona_create
from tests.workflows.api_helpers import bearer, post_json
from tests.workflows.factories import workflow_published
from tests.workflows.loopback_http import LoopbackServer
from workflows.models import Run, RunTrigger, StepRun, Workflow
from workflows.rag.ingest import collection_create, document_add
from workflows.services.execution import run_execute_here

pytestmark = pytest.mark.django_db

EXAMPLES = Path(__file__).resolve().parents[2] / "workflows" / "examples"
NAMES = ("notify", "research-writer", "bookkeeping-classifier", "support-bot")
WEBHOOK = "https://hooks.example.invalid/bizagent"
SHOP = "https://shop.example.invalid"


# -- set-up: the files as an operator edits them, the collections, the model ------------


@pytest.fixture
def examples(tmp_path: Path, loopback_server: LoopbackServer, settings: Any) -> dict[str, Path]:
    """The examples with their outside URLs pointed at the loopback server."""
    settings.HTTP_ALLOWED_HOSTS = ["127.0.0.1"]
    files = {}
    for name in NAMES:
        text = (EXAMPLES / f"{name}.json").read_text(encoding="utf-8")
        text = text.replace(WEBHOOK, loopback_server.url("/echo/hook"))
        text = text.replace(SHOP, loopback_server.url(""))
        files[name] = tmp_path / f"{name}.json"
        files[name].write_text(text, encoding="utf-8")
    return files


@pytest.fixture
def model(fake_gptoss: FakeGptOss, settings: Any) -> FakeGptOss:
    """The product's own model client pointed at the fake gpt-oss (vLLM's protocol)."""
    llm_settings_point(settings, fake_gptoss)
    return fake_gptoss


@pytest.fixture
def approver() -> Any:
    """alice as the decisions app knows her: she approves decisions."""
    return persona_create("alice", app="decisions")


def _call(*args: str) -> str:
    out, err = io.StringIO(), io.StringIO()
    call_command("workflow", *args, stdout=out, stderr=err)
    return out.getvalue()


def _import_published(path: Path, approver: Any) -> Workflow:
    """``workflow import --publish``, then a person approves the new_workflow decision."""
    lines = _call("import", str(path), "--publish").splitlines()
    workflow = Workflow.objects.get(pk=int(lines[0]))
    asked = re.match(r"waiting for approval: decision #(\d+) ", lines[1])
    assert asked, lines
    decision = Decision.objects.get(pk=int(asked.group(1)))
    assert (decision.kind, decision.action) == ("new_workflow", "workflows.workflow_publish")
    decision_approve(decision_id=decision.pk, user=approver)
    applied = decision_apply(decision_id=decision.pk)
    assert applied.status == Decision.Status.APPLIED, applied.outcome
    workflow.refresh_from_db()
    assert workflow.status == Workflow.Status.PUBLISHED
    return workflow


def _run(workflow: Workflow, run_input: dict[str, Any]) -> tuple[dict[str, Any], Run]:
    """``workflow run ID --input JSON --wait``: the printed output, and the run."""
    out = _call("run", str(workflow.pk), "--input", json.dumps(run_input), "--wait")
    return json.loads(out), Run.objects.filter(workflow=workflow).latest("id")


def _statuses(run: Run) -> dict[str, str]:
    """Each graph step's status (tool calls, which have a parent, left out)."""
    return dict(run.step_runs.filter(parent__isnull=True).values_list("step__name", "status"))


def _tool_calls(run: Run) -> list[tuple[str, str]]:
    """The agent's tool calls as recorded: (tool step, status), in order."""
    return list(
        run.step_runs.filter(parent__isnull=False)
        .order_by("id")
        .values_list("step__name", "status")
    )


def _child_of(run: Run, step: str) -> Run:
    """The subflow run the parent's ``step`` started."""
    return Run.objects.get(parent_step_run__run=run, parent_step_run__step__name=step)


def _posts(server: LoopbackServer) -> list[Any]:
    return [r for r in server.received if r.method == "POST" and r.path == "/echo/hook"]


def _prompt_of(fake: FakeGptOss, index: int) -> str:
    return fake.requests[index].prompt_text


# -- validate and import ----------------------------------------------------------------


def test_every_example_is_valid_once_its_subflow_is_published(examples, approver):
    # notify stands alone; the three parents name it, and subflows run published versions.
    assert _call("validate", str(examples["notify"])).strip() == "valid"
    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command(
            "workflow", "validate", str(examples["support-bot"]), stdout=io.StringIO(), stderr=err
        )
    assert "SUBFLOW escalate" in err.getvalue() and "'notify', which does not exist" in (
        err.getvalue()
    )

    _import_published(examples["notify"], approver)

    for name in NAMES:
        assert _call("validate", str(examples[name])).strip() == "valid", name
        # The shipped files too, with their example.invalid hosts.
        assert _call("validate", str(EXAMPLES / f"{name}.json")).strip() == "valid", name


def test_each_example_imports_as_a_draft_with_its_steps(examples, approver):
    _import_published(examples["notify"], approver)
    expected = {
        "research-writer": (6, 3),
        "bookkeeping-classifier": (4, 4),
        "support-bot": (9, 4),
    }
    for name, (steps, edges) in expected.items():
        workflow = Workflow.objects.get(pk=int(_call("import", str(examples[name])).strip()))
        assert workflow.key == name and workflow.status == Workflow.Status.DRAFT
        assert (workflow.steps.count(), workflow.edges.count()) == (steps, edges), name


def test_publishing_the_notifier_asks_about_its_new_webhook_host(examples, approver):
    lines = _call("import", str(examples["notify"]), "--publish").splitlines()
    decision = Decision.objects.get()

    assert lines[1].startswith(f"waiting for approval: decision #{decision.pk} ")
    assert decision.kind == "new_workflow"
    assert "New hosts it calls: 127.0.0.1." in decision.situation


# -- notify ------------------------------------------------------------------------------


def test_notify_posts_once_with_the_idempotency_key(examples, approver, loopback_server):
    notify = _import_published(examples["notify"], approver)

    output, run = _run(notify, {"subject": "Hello", "message": "It works.", "level": "info"})

    assert output == {"delivered": 200, "text": "[info] Hello: It works."}
    assert run.status == Run.Status.SUCCEEDED and run.trigger == RunTrigger.COMMAND
    assert _statuses(run) == {"format": "succeeded", "post": "succeeded"}
    (post,) = _posts(loopback_server)
    body = json.loads(post.body)
    assert body == {
        "text": "[info] Hello: It works.",
        "subject": "Hello",
        "level": "info",
        "workflow_run": run.pk,
    }
    assert post.header("Idempotency-Key") == run.step_runs.get(step__name="post").idempotency_key
    assert post.header("Idempotency-Key") == f"wf-{run.pk}-{notify.steps.get(name='post').pk}"


def test_notify_refuses_an_input_it_does_not_declare(examples, approver, loopback_server):
    notify = _import_published(examples["notify"], approver)
    err = io.StringIO()

    with pytest.raises(CommandError) as caught:
        call_command(
            "workflow",
            "run",
            str(notify.pk),
            "--input",
            json.dumps({"subject": "Hi", "message": "x", "level": "loud"}),
            "--wait",
            stdout=io.StringIO(),
            stderr=err,
        )

    assert caught.value.returncode == 2
    assert "$.level: 'loud' is not one of ['info', 'warning', 'error']" in err.getvalue()
    assert not Run.objects.exists() and loopback_server.received == []


# -- research writer ---------------------------------------------------------------------


def test_research_writer_researches_outlines_writes_and_announces(
    examples, approver, model, loopback_server
):
    collection_create(slug="research-notes", name="Research notes", actor=None)
    document_add(
        collection="research-notes",
        source="heat-pumps.md",
        text="Heat pumps\n\nA heat pump moves heat instead of making it; in mild climates it "
        "delivers three units of heat per unit of electricity.",
        actor=None,
    )
    _import_published(examples["notify"], approver)
    writer = _import_published(examples["research-writer"], approver)
    page = loopback_server.url("/text?size=22")
    outline = {
        "title": "Heat pumps, plainly",
        "sections": [{"heading": "How they work", "points": ["They move heat."]}],
    }
    model.enqueue(
        FakeReply(analysis="Search first.", tool_calls=[("search_notes", {"query": "heat pump"})]),
        FakeReply(analysis="Read the page.", tool_calls=[("fetch_page", {"url": page})]),
        FakeReply(final="- A heat pump moves heat [heat-pumps.md]\n- hello world [page]"),
        FakeReply(final=json.dumps(outline)),
        FakeReply(final="# Heat pumps, plainly\n\nA heat pump moves heat instead of making it."),
    )

    output, run = _run(writer, {"topic": "heat pumps", "audience": "home owners"})

    assert output == {
        "title": "Heat pumps, plainly",
        "article": "# Heat pumps, plainly\n\nA heat pump moves heat instead of making it.",
    }
    assert run.status == Run.Status.SUCCEEDED
    assert _statuses(run) == dict.fromkeys(
        ("research", "outline", "article", "announce"), "succeeded"
    )
    assert _tool_calls(run) == [("search_notes", "succeeded"), ("fetch_page", "succeeded")]
    assert len(model.requests) == 5
    # The notes' passage and the page went back to the model as tool results.
    assert "delivers three units of heat" in _prompt_of(model, 1)
    assert "hello world" in _prompt_of(model, 2)
    # The outline step read the research; the article step the outline.
    assert "A heat pump moves heat [heat-pumps.md]" in _prompt_of(model, 3)
    assert "Heat pumps, plainly" in _prompt_of(model, 4)
    # The page fetched with a GET carrying its own idempotency key; one POST announced it.
    (fetch,) = [r for r in loopback_server.received if r.path == "/text"]
    assert fetch.method == "GET"
    fetched = run.step_runs.get(step__name="fetch_page")
    assert fetch.header("Idempotency-Key") == fetched.idempotency_key
    child = _child_of(run, "announce")
    assert child.status == Run.Status.SUCCEEDED and child.trigger == RunTrigger.SUBFLOW
    assert child.workflow.key == "notify" and child.depth == 1
    assert child.output["text"] == (
        "[info] Article ready: Heat pumps, plainly: A draft on heat pumps for home owners "
        "is waiting for review."
    )
    (post,) = _posts(loopback_server)
    assert post.header("Idempotency-Key") == child.step_runs.get(step__name="post").idempotency_key


# -- bookkeeping classifier ---------------------------------------------------------------

TRANSACTIONS = [
    {"date": "2025-05-01", "description": "NTT Docomo mobile", "amount": -8800},
    {"date": "2025-05-02", "description": "Unknown transfer ABC KK", "amount": -55000},
]


def _classification(lowest: float) -> dict[str, Any]:
    return {
        "items": [
            {
                "line": 1,
                "description": "NTT Docomo mobile",
                "account": "communication",
                "tax_category": "taxable_10",
                "confidence": 0.97,
            },
            {
                "line": 2,
                "description": "Unknown transfer ABC KK",
                "account": "other",
                "tax_category": "out_of_scope",
                "confidence": lowest,
            },
        ],
        "lowest_confidence": lowest,
    }


def test_bookkeeping_with_a_low_confidence_line_asks_for_review(
    examples, approver, model, loopback_server
):
    _import_published(examples["notify"], approver)
    classifier = _import_published(examples["bookkeeping-classifier"], approver)
    classification = _classification(0.41)
    model.enqueue(FakeReply(final=json.dumps(classification)))

    output, run = _run(classifier, {"transactions": TRANSACTIONS})

    assert output == {"items": classification["items"], "needs_review": True}
    assert run.status == Run.Status.SUCCEEDED
    assert _statuses(run) == dict.fromkeys(("classify", "check", "review", "summary"), "succeeded")
    assert run.vars["summary"] == "Classified; lowest confidence 0.41."
    assert "Unknown transfer ABC KK" in _prompt_of(model, 0)
    child = _child_of(run, "review")
    assert child.workflow.key == "notify" and child.status == Run.Status.SUCCEEDED
    (post,) = _posts(loopback_server)
    body = json.loads(post.body)
    assert body["level"] == "warning" and body["subject"] == "Bookkeeping: lines to review"
    assert "The lowest confidence was 0.41" in body["text"]
    assert post.header("Idempotency-Key") == child.step_runs.get(step__name="post").idempotency_key


def test_bookkeeping_when_every_line_is_sure_skips_the_review(
    examples, approver, model, loopback_server
):
    _import_published(examples["notify"], approver)
    classifier = _import_published(examples["bookkeeping-classifier"], approver)
    classification = _classification(0.9)
    model.enqueue(FakeReply(final=json.dumps(classification)))

    output, run = _run(classifier, {"transactions": TRANSACTIONS})

    assert output == {"items": classification["items"], "needs_review": False}
    assert run.status == Run.Status.SUCCEEDED
    assert _statuses(run) == {
        "classify": "succeeded",
        "check": "succeeded",
        "review": "skipped",
        "summary": "succeeded",
    }
    assert not Run.objects.filter(parent_step_run__run=run).exists()
    assert _posts(loopback_server) == []


def test_a_draft_is_test_run_through_the_api_without_a_decision(
    examples, model, loopback_server, alice
):
    # The notifier is published (its decision approved); the classifier stays a draft.
    workflow_published(json.loads(examples["notify"].read_text(encoding="utf-8")))
    draft = Workflow.objects.get(pk=int(_call("import", str(examples["bookkeeping-classifier"]))))
    decisions_before = Decision.objects.count()
    model.enqueue(FakeReply(final=json.dumps(_classification(0.5))))
    client = bearer(alice)

    started = post_json(
        client,
        f"/api/v1/workflows/{draft.pk}/runs",
        {"input": {"transactions": TRANSACTIONS}, "test": True},
    )
    assert started.status_code == 202, started.content
    run = run_execute_here(run_id=started.json()["id"], timeout=60)  # what a worker does
    detail = client.get(f"/api/v1/runs/{run.pk}").json()

    assert detail["status"] == "succeeded" and detail["is_test"] is True
    assert detail["output"]["needs_review"] is True
    assert [s["status"] for s in detail["step_runs"]] == ["succeeded"] * 4
    draft.refresh_from_db()
    assert draft.status == Workflow.Status.DRAFT
    assert Decision.objects.count() == decisions_before
    assert len(_posts(loopback_server)) == 1
    # A draft runs only as a test: the command (no test flag) refuses it.
    with pytest.raises(CommandError, match="only a published version runs"):
        _call("run", str(draft.pk), "--input", json.dumps({"transactions": TRANSACTIONS}))


# -- support bot ---------------------------------------------------------------------------


def _faq() -> None:
    collection_create(slug="support-faq", name="Support FAQ", actor=None)
    document_add(
        collection="support-faq",
        source="shipping.md",
        text="Shipping\n\nOrders ship within two business days; delivery takes one to three days.",
        actor=None,
    )


def test_support_bot_answers_an_order_question_with_its_four_tools(
    examples, approver, model, loopback_server
):
    _faq()
    _import_published(examples["notify"], approver)
    bot = _import_published(examples["support-bot"], approver)
    question = "Where is my order A-1001?"
    reply = "Your order A-1001 has shipped with Yamato and should arrive by June 3."
    model.enqueue(
        FakeReply(tool_calls=[("classify_intent", {"message": question})]),
        FakeReply(final=json.dumps({"intent": "order", "order_id": "A-1001"})),
        FakeReply(tool_calls=[("order_status", {"order_id": "A-1001"})]),
        FakeReply(tool_calls=[("faq_search", {"query": "shipping delivery"})]),
        FakeReply(
            tool_calls=[("draft_reply", {"message": question, "facts": "shipped, eta June 3"})]
        ),
        FakeReply(final=reply),
        FakeReply(final=json.dumps({"reply": reply, "intent": "order"})),
    )

    output, run = _run(bot, {"user": "u42", "thread": "t1", "question": question})

    assert output == {"reply": reply, "intent": "order"}
    assert run.status == Run.Status.SUCCEEDED
    assert _statuses(run) == {
        "history": "succeeded",
        "answer": "succeeded",
        "remember": "succeeded",
        "route": "succeeded",
        "escalate": "skipped",
    }
    assert _tool_calls(run) == [
        ("classify_intent", "succeeded"),
        ("order_status", "succeeded"),
        ("faq_search", "succeeded"),
        ("draft_reply", "succeeded"),
    ]
    assert len(model.requests) == 7
    # Each tool's result reached the model: the shop API's answer, the FAQ passage.
    assert '"carrier": "Yamato"' in _prompt_of(model, 3)
    assert "Orders ship within two business days" in _prompt_of(model, 4)
    (order,) = [r for r in loopback_server.received if r.path == "/orders/A-1001"]
    assert order.method == "GET"
    looked_up = run.step_runs.get(step__name="order_status")
    assert order.header("Idempotency-Key") == looked_up.idempotency_key
    assert _posts(loopback_server) == []  # nothing to escalate
    assert run.step_runs.get(step__name="remember").output == {"added": 2}


def test_support_bot_remembers_the_thread_and_escalates_when_asked(
    examples, approver, model, loopback_server
):
    _faq()
    _import_published(examples["notify"], approver)
    bot = _import_published(examples["support-bot"], approver)
    first = {"user": "u42", "thread": "t9", "question": "Do you ship to Okinawa?"}
    model.enqueue(FakeReply(final=json.dumps({"reply": "Yes, we do.", "intent": "policy"})))
    _run(bot, first)
    second = {"user": "u42", "thread": "t9", "question": "I want to talk to a person now."}
    model.enqueue(
        FakeReply(
            final=json.dumps({"reply": "A colleague will write to you.", "intent": "escalate"})
        )
    )

    output, run = _run(bot, second)

    assert output == {"reply": "A colleague will write to you.", "intent": "escalate"}
    assert run.status == Run.Status.SUCCEEDED
    # The second turn's agent saw the first turn, read back from memory.
    history = run.step_runs.get(step__name="history").output["messages"]
    assert history == [
        {"role": "user", "content": "Do you ship to Okinawa?"},
        {"role": "assistant", "content": "Yes, we do."},
    ]
    assert "Do you ship to Okinawa?" in _prompt_of(model, 1)
    assert "Yes, we do." in _prompt_of(model, 1)
    child = _child_of(run, "escalate")
    assert child.workflow.key == "notify" and child.status == Run.Status.SUCCEEDED
    (post,) = _posts(loopback_server)
    body = json.loads(post.body)
    assert body["subject"] == "Support: u42 needs a person (thread t9)"
    assert body["level"] == "warning"
    assert "Bot replied: A colleague will write to you." in body["text"]
    assert post.header("Idempotency-Key") == child.step_runs.get(step__name="post").idempotency_key
    # A different thread starts empty.
    model.enqueue(FakeReply(final=json.dumps({"reply": "Hello!", "intent": "other"})))
    _, other = _run(bot, {"user": "u42", "thread": "t10", "question": "Hi"})
    assert other.step_runs.get(step__name="history").output["messages"] == []


def test_one_notifier_serves_several_parents(examples, approver, model, loopback_server):
    # One published notify, two parents calling it: two child runs, one POST each,
    # each with its own child step's key.
    _faq()
    notify = _import_published(examples["notify"], approver)
    classifier = _import_published(examples["bookkeeping-classifier"], approver)
    bot = _import_published(examples["support-bot"], approver)
    model.enqueue(
        FakeReply(final=json.dumps(_classification(0.3))),
        FakeReply(final=json.dumps({"reply": "Passing you on.", "intent": "escalate"})),
    )

    _run(classifier, {"transactions": TRANSACTIONS})
    _run(bot, {"user": "u1", "thread": "t1", "question": "A person, please."})

    children = Run.objects.filter(workflow=notify).order_by("id")
    assert [c.parent_step_run.run.workflow.key for c in children] == [
        "bookkeeping-classifier",
        "support-bot",
    ]
    keys = [p.header("Idempotency-Key") for p in _posts(loopback_server)]
    assert keys == [c.step_runs.get(step__name="post").idempotency_key for c in children]
    assert len(set(keys)) == 2
    assert StepRun.objects.filter(run__in=children, step__name="post").count() == 2
