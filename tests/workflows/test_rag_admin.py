"""The admin for document collections: creating a collection and uploading files go
through the services (audited, indexed); deleting a document removes it from the
index; bad files are refused with a message; permissions follow the personas."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from decisions.models import AuditEvent
from workflows.models import Collection, Document
from workflows.rag.ingest import collection_create, document_add
from workflows.rag.search import rag_search

UPLOAD = "/admin/workflows/document/add/"


@pytest.fixture
def help_collection(db):
    return collection_create(slug="help", name="Help centre", actor=None)


def _file(name: str, data: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="text/plain")


def test_alice_creates_a_collection_through_the_service(client, alice):
    client.force_login(alice)
    response = client.post(
        "/admin/workflows/collection/add/", {"slug": "faq", "name": "FAQ"}, follow=True
    )
    assert response.status_code == 200
    collection = Collection.objects.get(slug="faq")
    event = AuditEvent.objects.get(action="workflows.collection_created")
    assert event.actor == alice
    assert event.subject_id == str(collection.pk)


def test_alice_uploads_files_that_become_searchable(client, alice, help_collection):
    client.force_login(alice)
    response = client.post(
        UPLOAD,
        {
            "collection": "help",
            "upload": [
                _file("returns.md", "返品は30日以内に受け付けます。".encode()),
                _file("shipping.txt", b"Orders ship in two days."),
            ],
        },
        follow=True,
    )
    assert response.redirect_chain[-1][0] == "/admin/workflows/document/"
    assert "Added returns.md." in response.content.decode()
    assert [r["source"] for r in rag_search(collection="help", query="返品", limit=5)] == [
        "returns.md"
    ]
    assert AuditEvent.objects.filter(action="workflows.document_added", actor=alice).count() == 2


def test_uploading_an_unchanged_file_again_says_so(client, alice, help_collection):
    document_add(collection="help", source="a.txt", text=b"Returns policy", actor=None)
    client.force_login(alice)
    response = client.post(
        UPLOAD, {"collection": "help", "upload": [_file("a.txt", b"Returns policy")]}, follow=True
    )
    assert "Unchanged, already in the collection: a.txt" in response.content.decode()
    assert Document.objects.count() == 1


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("empty.txt", b"", "The submitted file is empty."),
        ("blank.md", b"  \n\n", "blank.md: the file is empty"),
        ("logo.md", b"\x89PNG\r\n\x1a\n\x00\x00", "logo.md: a binary file"),
        ("report.pdf", b"%PDF-1.4", "only .txt and .md files can be added, not: report.pdf"),
    ],
)
def test_a_bad_file_is_refused_with_a_message(client, alice, help_collection, name, data, message):
    client.force_login(alice)
    response = client.post(UPLOAD, {"collection": "help", "upload": [_file(name, data)]})
    assert response.status_code == 200
    assert message in response.content.decode()
    assert Document.objects.count() == 0


def test_an_unknown_collection_is_refused(client, alice, help_collection):
    client.force_login(alice)
    response = client.post(UPLOAD, {"collection": "nope", "upload": [_file("a.txt", b"hi")]})
    assert "Select a valid choice" in response.content.decode()
    assert Document.objects.count() == 0


def test_deleting_a_document_in_the_admin_removes_it_from_the_index(client, alice, help_collection):
    added = document_add(collection="help", source="a.txt", text="返品の手順", actor=None)
    client.force_login(alice)
    response = client.post(
        f"/admin/workflows/document/{added.document.pk}/delete/", {"post": "yes"}, follow=True
    )
    assert response.status_code == 200
    assert Document.objects.count() == 0
    assert rag_search(collection="help", query="返品", limit=5) == []
    assert AuditEvent.objects.get(action="workflows.document_deleted").actor == alice


def test_the_delete_action_goes_through_the_service(client, alice, help_collection):
    ids = [
        document_add(collection="help", source=f"{n}.txt", text=f"返品 {n}", actor=None).document.pk
        for n in ("a", "b")
    ]
    client.force_login(alice)
    client.post(
        "/admin/workflows/document/",
        {"action": "delete_selected", "_selected_action": ids, "post": "yes"},
    )
    assert Document.objects.count() == 0
    assert rag_search(collection="help", query="返品", limit=5) == []
    assert AuditEvent.objects.filter(action="workflows.document_deleted").count() == 2


def test_a_document_page_shows_its_passages(client, bob, help_collection):
    added = document_add(collection="help", source="a.txt", text="返品の<b>手順</b>", actor=None)
    client.force_login(bob)
    response = client.get(f"/admin/workflows/document/{added.document.pk}/change/")
    content = response.content.decode()
    assert response.status_code == 200
    assert "返品の&lt;b&gt;手順&lt;/b&gt;" in content


def test_bob_may_look_but_not_upload(client, bob, help_collection):
    client.force_login(bob)
    assert client.get("/admin/workflows/document/").status_code == 200
    assert client.get(UPLOAD).status_code == 403
    response = client.post(UPLOAD, {"collection": "help", "upload": [_file("a.txt", b"hi")]})
    assert response.status_code == 403
    assert Document.objects.count() == 0


def test_charlie_sees_no_collections(client, charlie, help_collection):
    client.force_login(charlie)
    assert client.get("/admin/workflows/collection/").status_code == 403
    assert client.get("/admin/workflows/document/").status_code == 403
