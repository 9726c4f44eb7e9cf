"""Every page of the workflows app speaks the reader's language.

Two halves, as ``tests/bizagent/test_i18n_pages.py`` does for the other apps. (1) Nothing
is left unmarked: each workflows template has no English word outside a translate tag,
and each template and module marks what ``bizagent.i18n_messages`` extracts. (2) Marked
means shown translated: with the pseudo-Japanese catalogue (every marked msgid shown as
〔msgid〕, so the test does not depend on the real Japanese being merged), the workflow
list and page, the run form, a run's page with its timeline, the token pages and the
document pages render for a browser asking ``ja`` with their words through the catalogue;
a command speaks ``LANGUAGE_CODE`` whatever language its caller had active.
"""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.urls import reverse
from django.utils import translation

from bizagent.i18n_messages import ROOT
from tests.bizagent.i18n_pseudo import all_marked, pseudo, pseudo_ja  # noqa: F401  (a fixture)
from tests.bizagent.test_i18n_pages import _file_messages, unmarked_words
from tests.workflows.factories import blocks_stand_in, document
from workflows.models import ApiToken, Run, StepRun, Workflow
from workflows.rag.ingest import collection_create, document_add
from workflows.services.definitions import workflow_create

TEMPLATES = (
    "workflows/templates/workflows/admin/workflow_change_form.html",
    "workflows/templates/workflows/admin/workflow_run.html",
    "templates/admin/workflows/apitoken/created.html",
    "templates/admin/workflows/document/upload.html",
    "templates/admin/workflows/run/change_form.html",
    "templates/admin/workflows/run/timeline_row.html",
)
CODE = (
    "workflows/admin_workflows.py",
    "workflows/admin_runs.py",
    "workflows/admin_tokens.py",
    "workflows/admin_rag.py",
    "workflows/models/core.py",
    "workflows/models/memory.py",
    "workflows/models/rag.py",
    "workflows/models/tokens.py",
    "workflows/management/commands/api_token.py",
    "workflows/management/commands/copilot.py",
    "workflows/management/commands/copilot_docs.py",
    "workflows/management/commands/rag.py",
    "workflows/management/commands/workflow.py",
    "workflows/management/commands/workflow_schedules.py",
)


@pytest.mark.parametrize("path", TEMPLATES)
def test_every_word_of_the_template_is_marked(path):
    assert unmarked_words((ROOT / path).read_text(encoding="utf-8")) == []


@pytest.mark.parametrize("path", TEMPLATES + CODE)
def test_the_catalogue_tool_extracts_the_files_strings(path):
    found = {m.key for m in _file_messages(path)}
    assert found, f"{path}: nothing marked for translation"
    assert found <= set(all_marked())


@pytest.mark.usefixtures("pseudo_ja")
def test_every_model_and_field_label_is_marked():
    """verbose names a person reads in the admin come from the catalogue, not literals."""
    unmarked = []
    with translation.override("ja"):
        for model in (Workflow, Run, StepRun, ApiToken):
            names = [model._meta.verbose_name, model._meta.verbose_name_plural]
            fields = model._meta.get_fields()
            names += [f.verbose_name for f in fields if not f.auto_created and not f.is_relation]
            names += [f.verbose_name for f in fields if f.many_to_one]
            unmarked += [f"{model.__name__}: {n}" for n in names if not str(n).startswith("〔")]
    assert unmarked == []


# --- rendered in Japanese -------------------------------------------------------------


@pytest.fixture(autouse=True)
def _blocks():
    yield from blocks_stand_in()


@pytest.fixture
def staff(client, db) -> User:
    user = User.objects.create_superuser("hanako", "hanako@example.com", "pw-hanako-123")
    client.force_login(user)
    return user


def _page(client, url: str) -> str:
    response = client.get(url, HTTP_ACCEPT_LANGUAGE="ja")
    assert response.status_code == 200, url
    return response.content.decode()


def _run_with_a_failed_step() -> Run:
    from tests.workflows.engine_blocks import run_drain, workflow_build
    from workflows.services.runs import run_start

    workflow = workflow_build(
        key="flaky",
        steps=[{"name": "bad", "block": "test-fail", "config": {"times": 1, "error": "refused"}}],
        edges=[],
    )
    run = run_drain(run_start(workflow=workflow, input={}, triggered_by=None))
    assert run.status == Run.Status.FAILED
    return run


@pytest.mark.usefixtures("pseudo_ja")
def test_the_workflow_list_and_page_in_japanese(client, staff):
    workflow = workflow_create(document=document("Support bot"), actor=None)
    html = _page(client, reverse("admin:workflows_workflow_changelist"))
    assert pseudo("workflows") in html
    assert pseudo("Publish selected workflows") in html
    assert pseudo("Draft") in html  # the status column shows its label
    assert pseudo("Workflows") in html  # the app's name in the breadcrumbs

    html = _page(client, reverse("admin:workflows_workflow_change", args=[workflow.pk]))
    for words in ("Graph", "Steps and edges", "Publish", "Retire", "Validate", "Test run"):
        assert pseudo(words) in html, words
    assert pseudo("on error") in html  # the steps table's header
    assert pseudo("Valid.") in html
    assert pseudo("system workflow") in html  # a field label
    assert ">Publish</button>" not in html


@pytest.mark.usefixtures("pseudo_ja")
def test_the_test_run_form_in_japanese(client, staff):
    workflow = workflow_create(document=document("Support bot"), actor=None)
    html = _page(client, reverse("admin:workflows_workflow_run", args=[workflow.pk]))
    assert pseudo("Start test run") in html
    assert pseudo("Input schema") in html
    assert pseudo("Input (JSON)") in html
    assert pseudo("Test run %(workflow)s") % {"workflow": workflow} in html


@pytest.mark.usefixtures("pseudo_ja")
def test_a_run_page_and_its_timeline_in_japanese(client, staff):
    run = _run_with_a_failed_step()
    html = _page(client, reverse("admin:workflows_run_change", args=[run.pk]))
    for words in ("Step timeline", "attempt", "Retry step", "Failed", "triggered by"):
        assert pseudo(words) in html, words
    assert "<h2>Step timeline</h2>" not in html

    html = _page(client, reverse("admin:workflows_run_changelist"))
    assert pseudo("Cancel the selected runs") in html


@pytest.mark.usefixtures("pseudo_ja")
def test_the_token_pages_in_japanese(client, staff):
    html = _page(client, reverse("admin:workflows_apitoken_add"))
    assert pseudo("What the token is for (a script, a CI).") in html
    assert pseudo("expires at") in html
    response = client.post(
        reverse("admin:workflows_apitoken_add"),
        {"user": staff.pk, "name": "nightly export"},
        HTTP_ACCEPT_LANGUAGE="ja",
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert pseudo("Back to the API tokens") in html
    assert pseudo("Token") in html
    html = _page(client, reverse("admin:workflows_apitoken_changelist"))
    assert pseudo("Revoke the selected tokens") in html
    assert pseudo("last used at") in html


@pytest.mark.usefixtures("pseudo_ja")
def test_the_document_pages_in_japanese(client, staff):
    collection_create(slug="help", name="Help", actor=None)
    document_add(collection="help", source="faq.md", text="Refunds take five days.", actor=None)
    html = _page(client, reverse("admin:workflows_document_add"))
    assert pseudo("Upload documents") in html
    assert pseudo("One or more .txt or .md files (UTF-8).") in html
    assert 'value="Upload"' not in html
    html = _page(client, reverse("admin:workflows_document_changelist"))
    assert pseudo("passages") in html
    html = _page(client, reverse("admin:workflows_collection_changelist"))
    assert pseudo("documents") in html


@pytest.mark.usefixtures("pseudo_ja")
def test_a_command_speaks_the_deployments_language_whoever_calls_it(db, settings, tmp_path):
    settings.LANGUAGE_CODE = "ja"
    path = tmp_path / "doc.json"
    path.write_text(json.dumps(document("Support bot")), encoding="utf-8")
    out = StringIO()
    with translation.override("en"):  # the caller's language is not the command's
        call_command("workflow", "validate", str(path), stdout=out)
    assert out.getvalue().strip() == pseudo("valid")
