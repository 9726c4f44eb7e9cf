"""In Chromium: the API docs page renders offline; a token made in the admin is read once."""

from __future__ import annotations

import hashlib

from playwright.sync_api import expect

from tests.browser import admin_log_in
from tests.personas import person_create
from workflows.models import ApiToken


def test_the_docs_page_lists_the_endpoints(page, alice):
    page.goto("/api/v1/docs")

    expect(page.get_by_text("/api/v1/workflows/{workflow_id}/validate").first).to_be_visible()
    expect(page.get_by_text("/api/v1/blocks/{slug}").first).to_be_visible()


def test_a_token_created_in_the_admin_is_shown_once(page, db):
    person_create("root", superuser=True)
    owner = person_create("owner")
    admin_log_in(page, "root", "pw-root-123")

    page.goto("/admin/workflows/apitoken/add/")
    page.select_option("#id_user", str(owner.pk))
    page.fill("#id_name", "nightly export")
    page.click("input[name=_save]")

    expect(page.get_by_text("shown only this once")).to_be_visible()
    raw = page.input_value("#api-token")
    token = ApiToken.objects.get()
    assert token.digest == hashlib.sha256(raw.encode()).hexdigest()

    page.click("text=Back to the API tokens")
    expect(page.get_by_text(token.prefix)).to_be_visible()
    assert raw not in page.content()
