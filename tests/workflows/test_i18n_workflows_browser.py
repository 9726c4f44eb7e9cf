"""A person whose browser asks for Japanese opens a workflow and then one of its runs in
headless Chromium and reads the pages' headings in Japanese: each heading equals what the
catalogue gives for its msgid under ``ja``. The pseudo-Japanese catalogue (〔msgid〕, in
this process, which the live server shares) is in front, so an unmarked heading fails here
and the test holds before and after the real Japanese is merged."""

from __future__ import annotations

import pytest
from django.utils import translation
from django.utils.translation import gettext
from playwright.sync_api import expect

from tests.bizagent.i18n_pseudo import pseudo_ja  # noqa: F401  (a fixture)
from tests.browser import admin_log_in
from tests.workflows.factories import RunFactory, blocks_stand_in, document
from workflows.models import Run
from workflows.services.definitions import workflow_create

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _blocks():
    yield from blocks_stand_in()


def _ja(msgid: str) -> str:
    with translation.override("ja"):
        return gettext(msgid)


@pytest.mark.usefixtures("pseudo_ja")
def test_a_japanese_reader_opens_a_workflow_and_a_run(page, alice):
    workflow = workflow_create(document=document("Support bot"), actor=None)
    run = RunFactory(workflow=workflow, status=Run.Status.SUCCEEDED)
    page.set_extra_http_headers({"Accept-Language": "ja"})
    admin_log_in(page, "alice", "pw-alice-123")

    page.goto("/admin/workflows/workflow/")
    page.get_by_role("link", name="Support bot", exact=True).click()
    headings = page.locator("fieldset h2")
    expect(headings.filter(has_text=_ja("Graph"))).to_have_count(1)
    expect(headings.filter(has_text=_ja("Steps and edges"))).to_have_count(1)
    expect(headings.filter(has_text=_ja("History"))).to_have_count(1)
    expect(page.locator("#workflow-validate")).to_have_text(_ja("Validate"))

    page.goto(f"/admin/workflows/run/{run.pk}/change/")
    expect(page.locator("#run-actions + h2")).to_have_text(_ja("Step timeline"))
    expect(page.locator("#step-timeline thead th").first).to_have_text(_ja("step"))
    expect(page.locator("label", has_text=_ja("triggered by"))).to_have_count(1)
    assert _ja("Step timeline") == "〔Step timeline〕"  # the catalogue in front is the pseudo one
