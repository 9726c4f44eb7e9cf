"""collection_create, document_add and document_delete: chunked, indexed and audited in
one transaction; an unchanged file re-added is a no-op; bad input is refused with a
message that names the problem and nothing is written."""

from __future__ import annotations

import itertools

import pytest
from django.db import connection

from decisions.models import AuditEvent
from tests.concurrency import run_together
from tests.workflows.rag_corpus import corpus_load
from workflows.models import Chunk, Collection, Document
from workflows.rag.chunking import chunks_cut
from workflows.rag.errors import CollectionNotFound, RagInputError
from workflows.rag.ingest import collection_create, document_add, document_delete, documents_add
from workflows.rag.search import rag_search

# The index is kept in step differently per database (rows in an FTS5 table on SQLite,
# a GIN expression index on PostgreSQL): run on both.
pytestmark = pytest.mark.postgres


def _fts_rows() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM workflows_chunk_fts")
        return cursor.fetchone()[0]


@pytest.fixture
def help_collection(alice) -> Collection:
    return collection_create(slug="help", name="Help centre", actor=alice)


def test_it_creates_a_collection_and_audits_it(alice):
    collection = collection_create(slug="faq", name="FAQ", actor=alice)
    event = AuditEvent.objects.get(action="workflows.collection_created")
    assert (collection.slug, collection.name) == ("faq", "FAQ")
    assert event.actor == alice
    assert event.data == {"slug": "faq", "name": "FAQ"}


def test_it_refuses_a_bad_or_taken_slug(alice, help_collection):
    with pytest.raises(RagInputError, match="slug"):
        collection_create(slug="not a slug!", actor=alice)
    with pytest.raises(RagInputError, match="already exists"):
        collection_create(slug="help", actor=alice)
    assert Collection.objects.count() == 1


def test_it_adds_a_document_chunked_indexed_and_audited(alice, help_collection):
    added = document_add(
        collection="help",
        source="docs/returns.md",
        text="返品ポリシー\n\n30日以内なら返品できます。",
        actor=alice,
    )
    document = added.document
    assert added.created is True
    assert document.title == "returns"
    chunks = list(document.chunks.order_by("ordinal"))
    assert [c.ordinal for c in chunks] == [0]
    assert "返品" in chunks[0].segmented.split(" ")
    assert chunks[0].token_count == len(chunks[0].segmented.split(" "))
    if connection.vendor == "sqlite":
        assert _fts_rows() == 1
    event = AuditEvent.objects.get(action="workflows.document_added")
    assert event.actor == alice
    assert event.data["collection"] == "help"
    assert event.data["chunks"] == 1
    assert event.data["checksum"] == document.checksum


def test_a_given_title_wins_over_the_file_name(alice, help_collection):
    added = document_add(
        collection="help", source="a.txt", text="hello world", title="Greeting", actor=alice
    )
    assert added.document.title == "Greeting"


def test_re_adding_an_unchanged_file_is_a_no_op(alice, help_collection):
    first = document_add(collection="help", source="a.md", text=b"Returns policy", actor=alice)
    again = document_add(collection="help", source="copy.md", text=b"Returns policy", actor=alice)
    assert again.created is False
    assert again.document.pk == first.document.pk
    assert Document.objects.count() == 1
    assert Chunk.objects.count() == 1
    assert AuditEvent.objects.filter(action="workflows.document_added").count() == 1


def test_a_changed_file_replaces_the_document_of_the_same_source(alice, help_collection):
    old = document_add(collection="help", source="a.md", text="Returns in 14 days", actor=alice)
    new = document_add(collection="help", source="a.md", text="Refunds in 30 days", actor=alice)
    assert new.created is True
    assert new.replaced_id == old.document.pk
    assert list(Document.objects.values_list("pk", flat=True)) == [new.document.pk]
    assert rag_search(collection="help", query="returns", limit=5) == []
    assert [r["document_id"] for r in rag_search(collection="help", query="refunds")] == [
        new.document.pk
    ]
    deleted = AuditEvent.objects.get(action="workflows.document_deleted")
    assert deleted.data["reason"] == "replaced"


def test_an_empty_file_is_refused(alice, help_collection):
    with pytest.raises(RagInputError, match=r"empty\.txt: the file is empty"):
        document_add(collection="help", source="empty.txt", text=b" \n\n ", actor=alice)
    assert Document.objects.count() == 0


def test_a_binary_file_is_refused(alice, help_collection):
    with pytest.raises(RagInputError, match=r"logo\.png: a binary file"):
        document_add(collection="help", source="logo.png", text=b"\x89PNG\r\n\x00\x00", actor=alice)
    with pytest.raises(RagInputError, match=r"latin\.txt: not UTF-8 text"):
        document_add(
            collection="help", source="latin.txt", text="café".encode("latin-1"), actor=alice
        )
    assert Document.objects.count() == 0
    assert not AuditEvent.objects.filter(action="workflows.document_added").exists()


def test_an_unknown_collection_is_refused(alice):
    with pytest.raises(CollectionNotFound, match="no document collection is called 'nope'"):
        document_add(collection="nope", source="a.txt", text="hello", actor=alice)
    assert Document.objects.count() == 0


def test_delete_removes_the_document_from_the_index(alice):
    corpus_load(actor=alice)
    returns = Document.objects.get(source="returns.md")
    assert returns.pk in {r["document_id"] for r in rag_search(collection="help", query="返品")}
    chunks_before = Chunk.objects.count()
    document_delete(document_id=returns.pk, actor=alice)
    found = {r["source"] for r in rag_search(collection="help", query="返品")}
    assert found == {"sales.txt"}
    assert Chunk.objects.count() == chunks_before - 1
    if connection.vendor == "sqlite":
        assert _fts_rows() == Chunk.objects.count()
    event = AuditEvent.objects.get(action="workflows.document_deleted")
    assert event.actor == alice
    assert event.data["source"] == "returns.md"
    assert event.data["reason"] == "deleted"


def test_deleting_a_missing_document_says_so(alice):
    with pytest.raises(RagInputError, match="no document has id 999"):
        document_delete(document_id=999, actor=alice)


def test_chunks_keep_paragraphs_under_the_cap_and_overlap():
    text = "\n\n".join(f"Paragraph {i} " + "x" * 40 for i in range(6))
    chunks = chunks_cut(text, max_chars=160, overlap_chars=60)
    assert len(chunks) > 1
    assert all(len(chunk) <= 160 for chunk in chunks)
    for before, after in itertools.pairwise(chunks):
        # Each chunk starts with the last paragraph of the one before.
        assert after.split("\n\n")[0] == before.split("\n\n")[-1]
    # Every paragraph is somewhere.
    assert all(
        f"Paragraph {i} " in text and any(f"Paragraph {i} " in c for c in chunks) for i in range(6)
    )


def test_an_overlong_paragraph_is_cut_at_sentence_ends():
    text = "あ" * 30 + "。" + "い" * 30 + "。"
    assert chunks_cut(text, max_chars=40, overlap_chars=10) == ["あ" * 30 + "。", "い" * 30 + "。"]


def test_several_files_are_added_all_or_none(alice, help_collection):
    with pytest.raises(RagInputError, match=r"c\.txt: the file is empty"):
        documents_add(
            collection="help",
            files=[("a.txt", b"Returns"), ("b.md", "返品".encode()), ("c.txt", b"")],
            actor=alice,
        )
    assert Document.objects.count() == 0
    added = documents_add(
        collection="help", files=[("a.txt", b"Returns"), ("b.md", "返品".encode())], actor=alice
    )
    assert [a.document.source for a in added] == ["a.txt", "b.md"]
    assert all(a.created for a in added)


def test_a_title_is_only_for_one_file(alice, help_collection):
    with pytest.raises(RagInputError, match="a title can only be given for a single file"):
        documents_add(
            collection="help", files=[("a.txt", b"x"), ("b.txt", b"y")], title="T", actor=alice
        )


@pytest.mark.django_db(transaction=True)
def test_two_workers_adding_the_same_file_make_one_document():
    collection_create(slug="race", name="Race", actor=None)

    def add(index: int):
        return document_add(
            collection="race",
            source=f"copy-{index}.md",
            text="返品ポリシー。30日以内。",
            actor=None,
        )

    results, errors = run_together(add, 4)
    assert errors == []
    assert sorted(r.created for r in results) == [False, False, False, True]
    assert len({r.document.pk for r in results}) == 1
    assert Document.objects.count() == 1
    assert AuditEvent.objects.filter(action="workflows.document_added").count() == 1
    assert [r["source"] for r in rag_search(collection="race", query="返品")] == [
        results[0].document.source
    ]
