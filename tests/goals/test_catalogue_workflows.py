"""The catalogue's three workflows, end to end on the engine, as a goal's executor runs them.

Each document in ``goals/catalogue/workflows/`` validates with the one validator,
imports, is published (its decision approved, as a person would) and runs against the
fake gpt-oss server (scripted answers) and a loopback HTTP sink standing in for the
user's own services: a trial or prospect list, an email-sending API and a webhook. The
counts the runs report are the ones ``goals.sources.runs`` reads.
"""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.utils import timezone

from decisions.models import Decision
from goals.catalogue import catalogue_load
from goals.services.catalogue import WORKFLOWS_DIR, catalogue_workflows_install
from goals.sources.runs import RunsSource
from tests.fake_gptoss import FakeGptOss, FakeReply
from tests.llm_backends import llm_settings_point
from tests.workflows.factories import workflow_published
from tests.workflows.loopback_http import LoopbackServer, Received, _Handler
from workflows.errors import RunInputInvalid
from workflows.models import Run, Workflow
from workflows.selectors import document_problems
from workflows.services.execution import run_execute_here
from workflows.services.runs import run_start

pytestmark = pytest.mark.django_db

TRIALS = [
    {"id": "t1", "email": "hanako@example.jp", "name": "花子"},
    {"id": "t2", "email": "sam@example.com", "name": "Sam"},
]
PROSPECTS = [
    {"id": "p1", "email": "cto@acme.example", "name": "Ito", "company": "Acme", "note": "hiring"},
    {"id": "p2", "email": "ceo@beta.example", "name": "Lee", "company": "Beta", "note": "new shop"},
    {"id": "p3", "email": "ops@gamma.example", "name": "Kim", "company": "Gamma", "note": ""},
]


class _SinkHandler(_Handler):
    """The user's services: lists honour ``limit``; the mail API counts what it accepts."""

    def _json(self, body: Any) -> None:
        self._send(200, json.dumps(body, ensure_ascii=False).encode(), "application/json")

    def route_trials(self, args: list[str], query: dict[str, str], got: Received) -> None:
        rows = TRIALS[: int(query["limit"])]
        self._json({"trials": rows, "count": len(rows)})

    def route_prospects(self, args: list[str], query: dict[str, str], got: Received) -> None:
        rows = PROSPECTS[: int(query["limit"])]
        self._json({"prospects": rows, "count": len(rows)})

    def route_mail(self, args: list[str], query: dict[str, str], got: Received) -> None:
        body = json.loads(got.body)
        people = body.get("recipients") or body.get("prospects") or []
        self._json({"sent": len(people) * len(body.get("sequence") or [None])})


class Sink(LoopbackServer):
    def __init__(self) -> None:
        super(LoopbackServer, self).__init__(("127.0.0.1", 0), _SinkHandler)
        self.received = []

    def posts(self, path: str) -> list[Received]:
        return [r for r in self.received if r.method == "POST" and r.path == path]


@pytest.fixture
def sink(settings: Any) -> Iterator[Sink]:
    settings.HTTP_ALLOWED_HOSTS = ["127.0.0.1"]
    server = Sink()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def model(fake_gptoss: FakeGptOss, settings: Any) -> FakeGptOss:
    llm_settings_point(settings, fake_gptoss)
    return fake_gptoss


def _document(key: str) -> dict[str, Any]:
    return json.loads((WORKFLOWS_DIR / f"{key}.json").read_text(encoding="utf-8"))


def _run(workflow: Workflow, run_input: dict[str, Any]) -> Run:
    run = run_start(workflow=workflow, input=run_input, triggered_by=None, subject="goal")
    return run_execute_here(run_id=run.pk, timeout=60)


def _statuses(run: Run) -> dict[str, str]:
    return dict(run.step_runs.filter(parent__isnull=True).values_list("step__name", "status"))


def test_each_catalogue_entry_has_its_workflow_document_and_each_validates():
    files = sorted(path.stem for path in Path(WORKFLOWS_DIR).glob("*.json"))
    entries = {entry.workflow: entry for entry in catalogue_load()}
    assert files == sorted(entries) == ["briefing-post", "cold-outreach", "trial-onboarding"]
    for key, entry in entries.items():
        document = _document(key)
        assert document["key"] == key
        assert document_problems(document=document) == [], key
        # The planner sets the volume input, and the schema caps it at the item's cap.
        volume = document["input_schema"]["properties"][entry.volume_param]
        assert volume["type"] == "integer" and volume["maximum"] == entry.max_per_day, key
        # No outside host is written into a document: every URL comes from the input.
        for step in document["steps"]:
            if step["block"] == "http":
                assert step["config"]["url"].startswith("{{ input."), (key, step["name"])


SEQUENCE = {
    "emails": [
        {"day": day, "subject": f"件名 {day}", "body": f"{{name}}様、{day}日目のご案内です。"}
        for day in (0, 2, 5, 12)
    ]
}


def test_trial_onboarding_reads_the_trials_writes_the_sequence_and_sends_it(sink, model):
    workflow = workflow_published(_document("trial-onboarding"))
    model.enqueue(FakeReply(final=json.dumps(SEQUENCE, ensure_ascii=False)))

    run = _run(
        workflow,
        {
            "trials_per_day": 2,
            "trials_url": sink.url("/trials"),
            "email_api_url": sink.url("/mail"),
            "language": "ja",
            "product": "請求書アプリ",
        },
    )

    assert run.status == Run.Status.SUCCEEDED, run.error
    assert run.output == {"sends": 8, "trials": 2}  # 2 trial users x 4 mails
    assert _statuses(run) == dict.fromkeys(("fetch_trials", "write", "send"), "succeeded")
    (listing,) = [r for r in sink.received if r.path == "/trials"]
    assert listing.method == "GET"
    assert listing.query == {"limit": ["2"], "since": [timezone.localdate().isoformat()]}
    prompt = model.requests[0].prompt_text
    assert "請求書アプリ" in prompt and "Language: ja" in prompt
    (post,) = sink.posts("/mail")
    body = json.loads(post.body)
    assert body["recipients"] == TRIALS and body["sequence"] == SEQUENCE["emails"]
    assert body["language"] == "ja" and body["workflow_run"] == run.pk
    assert post.header("Idempotency-Key") == run.step_runs.get(step__name="send").idempotency_key
    # What the goals' workflow-runs source reads for the day.
    today = timezone.localdate()
    assert RunsSource(workflow_keys=["trial-onboarding"]).read(metric="sends", day=today).value == 8
    assert RunsSource().read(metric="trials", day=today).value == 2


def test_trial_onboarding_writes_english_when_asked(sink, model):
    workflow = workflow_published(_document("trial-onboarding"))
    english = {
        "emails": [{"day": d, "subject": "Hi", "body": "Hello {name}"} for d in (0, 2, 5, 12)]
    }
    model.enqueue(FakeReply(final=json.dumps(english)))

    run = _run(
        workflow,
        {
            "trials_per_day": 1,
            "trials_url": sink.url("/trials"),
            "email_api_url": sink.url("/mail"),
            "language": "en",
            "product": "Invoice app",
        },
    )

    assert run.output == {"sends": 4, "trials": 1}
    assert "Language: en" in model.requests[0].prompt_text
    assert json.loads(sink.posts("/mail")[0].body)["recipients"] == TRIALS[:1]


def _outreach_input(sink: Sink, sends: int) -> dict[str, Any]:
    return {
        "sends_per_day": sends,
        "prospects_url": sink.url("/prospects"),
        "email_api_url": sink.url("/mail"),
        "language": "en",
        "product": "Invoice app",
        "sender": "Aiko",
    }


def test_cold_outreach_personalises_one_mail_per_prospect_and_sends_them(sink, model):
    workflow = workflow_published(_document("cold-outreach"))
    messages = [
        {"id": p["id"], "subject": f"{p['company']} and invoices", "body": f"Hi {p['name']}"}
        for p in PROSPECTS[:2]
    ]
    model.enqueue(FakeReply(final=json.dumps({"messages": messages})))

    run = _run(workflow, _outreach_input(sink, 2))

    assert run.status == Run.Status.SUCCEEDED, run.error
    assert run.output == {"sends": 2, "prospects": 2}
    (listing,) = [r for r in sink.received if r.path == "/prospects"]
    assert listing.query == {"limit": ["2"]}
    prompt = model.requests[0].prompt_text
    assert "Acme" in prompt and "Beta" in prompt and "Gamma" not in prompt
    (post,) = sink.posts("/mail")
    body = json.loads(post.body)
    assert body["prospects"] == PROSPECTS[:2] and body["messages"] == messages
    assert post.header("Idempotency-Key") == run.step_runs.get(step__name="send").idempotency_key
    assert (
        RunsSource(workflow_keys=["cold-outreach"])
        .read(metric="sends", day=timezone.localdate())
        .value
        == 2
    )


def test_cold_outreach_refuses_more_than_its_daily_cap_before_anything_is_sent(sink, model):
    workflow = workflow_published(_document("cold-outreach"))
    cap = next(e.max_per_day for e in catalogue_load() if e.workflow == "cold-outreach")

    with pytest.raises(RunInputInvalid) as caught:
        run_start(workflow=workflow, input=_outreach_input(sink, cap + 1), triggered_by=None)

    assert f"$.sends_per_day: {cap + 1} is greater than the maximum of {cap}" in str(
        caught.value.problems
    )
    assert not Run.objects.exists()
    assert sink.received == [] and model.requests == []


def test_briefing_post_writes_a_briefing_and_posts_it_to_the_webhook(sink, model):
    workflow = workflow_published(_document("briefing-post"))
    text = "## 今週の3つ\n\n1. ...\n\n無料トライアルはこちら: https://app.example/trial"
    model.enqueue(FakeReply(final=text))

    run = _run(
        workflow,
        {
            "posts_per_day": 1,
            "webhook_url": sink.url("/echo/post"),
            "topic": "中小企業の請求業務",
            "audience": "経理担当者",
            "language": "ja",
            "trial_url": "https://app.example/trial",
        },
    )

    assert run.status == Run.Status.SUCCEEDED, run.error
    assert run.output == {"delivered": 200, "briefing": text}
    assert "https://app.example/trial" in model.requests[0].prompt_text
    (post,) = sink.posts("/echo/post")
    assert json.loads(post.body) == {
        "title": "中小企業の請求業務",
        "text": text,
        "language": "ja",
        "workflow_run": run.pk,
    }
    assert post.header("Idempotency-Key") == run.step_runs.get(step__name="post").idempotency_key


# -- installing them ------------------------------------------------------------------------


def _install() -> list[str]:
    out = io.StringIO()
    call_command("goal_catalogue", "install", stdout=out)
    return out.getvalue().splitlines()


def test_install_imports_each_workflow_as_a_draft_and_then_does_nothing():
    first = _install()

    drafts = {w.key: w for w in Workflow.objects.all()}
    assert sorted(drafts) == ["briefing-post", "cold-outreach", "trial-onboarding"]
    assert {w.status for w in drafts.values()} == {Workflow.Status.DRAFT}
    assert {w.version for w in drafts.values()} == {1}
    assert first == [
        f"{key}: imported as draft #{drafts[key].pk} (publish it to use it)"
        for key in ("briefing-post", "cold-outreach", "trial-onboarding")
    ]
    assert drafts["cold-outreach"].steps.count() == 3
    assert not Decision.objects.exists()  # nothing was published, so nothing asked

    second = _install()

    assert Workflow.objects.count() == 3
    assert second == [
        f"{key}: already there (#{drafts[key].pk}), left alone"
        for key in ("briefing-post", "cold-outreach", "trial-onboarding")
    ]


def test_install_leaves_a_key_a_person_already_has_alone(alice):
    mine = workflow_published(_document("briefing-post"))

    results = catalogue_workflows_install(actor=alice)

    assert [(r.key, r.outcome) for r in results] == [
        ("briefing-post", "exists"),
        ("cold-outreach", "created"),
        ("trial-onboarding", "created"),
    ]
    assert results[0].workflow_id == mine.pk
    mine.refresh_from_db()
    assert mine.status == Workflow.Status.PUBLISHED
    assert Workflow.objects.filter(key="cold-outreach").get().created_by == alice


def test_install_by_a_person_without_the_add_permission_is_refused(bob):
    with pytest.raises(PermissionDenied):
        catalogue_workflows_install(actor=bob)
    assert not Workflow.objects.exists()
