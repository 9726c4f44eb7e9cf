"""A password in ``BIZAGENT_LLM_BASE_URL`` never reaches a stored row, a page or an output.

The loop runs against the fake gpt-oss server at ``http://user:<password>@127.0.0.1:<port>/v1``
through success and every failure path (bad answer, server error, refused request, nothing
listening); then every row of every table, the admin pages, the logs and the Sheets sent
are scanned for the password.
"""

from __future__ import annotations

import json
import logging
import socket

import pytest
import responses
from django.apps import apps
from django.contrib.auth import get_user_model
from django.urls import NoReverseMatch, reverse

from bizagent.llm.client import llm_client
from bizagent.llm.errors import LLMError
from decisions.mirror import sheets_sync
from goals.models import Iteration, LoopState, Task
from goals.services import iteration_run, loop_start, task_create
from tests.fake_gptoss import FakeReply
from tests.goals.factories import ThemeFactory
from tests.goals.studio import Studio
from tests.google_sheets import SPREADSHEET_ID, FakeGoogleSheets
from tests.llm_backends import llm_settings_point

pytestmark = pytest.mark.django_db

PASSWORD = "s3cr3t-pw-4711"
USER = "agentuser"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _studio_responder(studio: Studio):
    def respond(request) -> FakeReply:
        analysis, answer = studio.answer(request.prompt_text)
        return FakeReply(analysis=analysis, final=json.dumps(answer, ensure_ascii=False))

    return respond


@pytest.fixture
def secret_server(fake_gptoss, settings):
    llm_settings_point(
        settings, fake_gptoss, base_url=f"http://{USER}:{PASSWORD}@127.0.0.1:{fake_gptoss.port}/v1"
    )
    settings.GOALS_RETRY_DELAY_SECONDS = 0
    settings.GOALS_TICK_CHAIN = False
    settings.GOALS_BACKOFF_BASE_SECONDS = 0
    settings.GOALS_BACKOFF_MAX_SECONDS = 0
    return fake_gptoss


def _every_stored_value() -> list[tuple[str, str]]:
    """(table, text of the row) for every row of every model, all fields included."""
    found = []
    for model in apps.get_models():
        for row in model.objects.all().values():
            found.append((model._meta.db_table, json.dumps(row, default=str, ensure_ascii=False)))
    return found


def _assert_no_secret(text: str, where: str) -> None:
    assert PASSWORD not in text, f"the password leaked into {where}"
    assert f"{USER}:" not in text, f"the user name leaked into {where}"


def test_the_password_reaches_no_row_page_log_or_sheet(
    secret_server, settings, client, caplog, service_account_file
):
    caplog.set_level(logging.INFO)
    theme = ThemeFactory()
    loop_start()
    studio = Studio()
    secret_server.responder = _studio_responder(studio)
    # Success, then a bad answer (fails the task), a 500 and a refused request (back off).
    assert iteration_run(worker="w", scheduled=False).ran
    for failure in ("malformed_json", "server_error", "status:400", "missing_fields"):
        task_create(theme=theme, kind="generate", priority=90)
        secret_server.enqueue(FakeReply(failure=failure))
        iteration_run(worker="w", scheduled=False)
    # Nothing listening at the URL at all.
    settings.LLM_BASE_URL = f"http://{USER}:{PASSWORD}@127.0.0.1:{_closed_port()}/v1"
    task_create(theme=theme, kind="generate", priority=90)
    iteration_run(worker="w", scheduled=False)

    failed = Iteration.objects.filter(outcome="failed")
    assert failed.exists(), "the failure paths must have run"
    state = LoopState.objects.get()
    assert state.last_error_class or state.reason
    # The redacted URL is still there to tell the operator which server failed.
    assert any("***" in it.error_detail or "127.0.0.1" in it.error_detail for it in failed) or (
        "127.0.0.1" in state.reason + state.last_error
    )

    # The Sheets outbox, sent to (fake) Google.
    # (installed only now: the fake Sheets API refuses every other URL, the model's too)
    settings.SHEETS_CREDENTIALS = str(service_account_file)
    settings.SHEETS_SPREADSHEET_ID = SPREADSHEET_ID
    sheets = FakeGoogleSheets()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        sheets.install(mock)
        report = sheets_sync(ensure_tabs=True)
    sent = {title: tab.rows for title, tab in sheets.tabs.items()}
    assert any(len(rows) > 1 for rows in sent.values()), report
    _assert_no_secret(json.dumps(sent, ensure_ascii=False, default=str), "Google Sheets")

    # Every admin page that shows these rows.
    staff = get_user_model().objects.create_superuser("root", "root@example.com", "pw-admin-1")
    client.force_login(staff)
    pages = []
    for model in (LoopState, Iteration, Task, apps.get_model("decisions", "AuditEvent")):
        meta = model._meta
        try:
            pages.append(reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist"))
        except NoReverseMatch:
            continue
        for pk in model.objects.values_list("pk", flat=True)[:20]:
            pages.append(reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[pk]))
    assert len(pages) > 5
    for page in pages:
        response = client.get(page)
        assert response.status_code in (200, 302), page
        _assert_no_secret(response.content.decode(), page)

    for table, text in _every_stored_value():
        _assert_no_secret(text, f"table {table}")
    _assert_no_secret(caplog.text, "the logs")


def test_an_error_at_an_unreachable_url_names_the_server_without_its_password(settings):
    port = _closed_port()
    settings.LLM_BACKEND = "vllm"
    settings.LLM_BASE_URL = f"http://{USER}:{PASSWORD}@127.0.0.1:{port}/v1?api_key=k-9981xyz"
    settings.LLM_MAX_RETRIES = 0
    client = llm_client()
    assert PASSWORD not in client.base_url and "k-9981xyz" not in client.base_url
    from bizagent.llm.types import ChatRequest

    with pytest.raises(LLMError) as caught:
        client.complete(ChatRequest(instructions="x", user="ping", max_tokens=16))
    message = str(caught.value)
    assert f"127.0.0.1:{port}" in message
    assert PASSWORD not in message and "k-9981xyz" not in message
    assert PASSWORD not in caught.value.url and PASSWORD not in caught.value.detail
