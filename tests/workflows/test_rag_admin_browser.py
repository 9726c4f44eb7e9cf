"""Uploading documents in the admin, in headless Chromium as a person does it: from the
document list's Add button, choose a collection and two files, upload, and find them
listed and searchable; a binary file is refused on the page with its name."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser import admin_log_in
from workflows.models import Document
from workflows.rag.ingest import collection_create
from workflows.rag.search import rag_search

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_alice_uploads_two_files_and_finds_them_listed(page, alice):
    collection_create(slug="help", name="Help centre", actor=None)
    admin_log_in(page, "alice", "pw-alice-123")
    page.goto("/admin/workflows/document/")
    page.get_by_role("link", name=re.compile("Add document", re.I)).click()
    expect(page).to_have_url(re.compile(r"/admin/workflows/document/add/$"))
    page.select_option("#id_collection", "help")
    page.set_input_files(
        "#id_upload",
        [
            {
                "name": "returns.md",
                "mimeType": "text/markdown",
                "buffer": "返品は30日以内。".encode(),
            },
            {
                "name": "shipping.txt",
                "mimeType": "text/plain",
                "buffer": b"Orders ship in two days.",
            },
        ],
    )
    page.get_by_role("button", name="Upload", exact=True).click()
    expect(page).to_have_url(re.compile(r"/admin/workflows/document/$"))
    expect(page.locator(".messagelist")).to_contain_text("Added returns.md.")
    expect(page.locator("#result_list")).to_contain_text("shipping")
    assert sorted(Document.objects.values_list("source", flat=True)) == [
        "returns.md",
        "shipping.txt",
    ]
    assert [r["source"] for r in rag_search(collection="help", query="返品", limit=5)] == [
        "returns.md"
    ]


def test_a_binary_file_is_refused_on_the_page(page, alice):
    collection_create(slug="help", name="Help centre", actor=None)
    admin_log_in(page, "alice", "pw-alice-123")
    page.goto("/admin/workflows/document/add/")
    page.select_option("#id_collection", "help")
    page.set_input_files(
        "#id_upload",
        [{"name": "logo.md", "mimeType": "text/markdown", "buffer": b"\x89PNG\r\n\x00\x00"}],
    )
    page.get_by_role("button", name="Upload", exact=True).click()
    expect(page.locator("#document-upload")).to_contain_text("logo.md: a binary file")
    assert Document.objects.count() == 0
