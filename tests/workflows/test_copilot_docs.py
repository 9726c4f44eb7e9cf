"""The copilot's documentation: the catalogue generated from the registry (and its
committed copy), the rebuild of the ``copilot-docs`` collection (only what changed is
written), the command, and search through the retriever the ``rag-query`` block uses
answering Japanese and English questions with the right block's section first."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from decisions.models import AuditEvent
from tests.concurrency import run_together
from workflows.blocks import block_get
from workflows.docs import (
    BLOCK_SUMMARIES_JA,
    BLOCK_USES,
    CATALOGUE_PATH,
    DocSource,
    block_catalogue_markdown,
    docs_collect,
    product_blocks,
)
from workflows.models import Chunk, Collection, Document
from workflows.rag.errors import RagInputError
from workflows.rag.search import rag_retriever
from workflows.services.docs import COPILOT_DOCS_COLLECTION, copilot_docs_rebuild

from .test_rag_query_block import Context


def _docs_command(*args: str) -> str:
    out = StringIO()
    call_command("copilot_docs", *args, stdout=out)
    return out.getvalue()


def test_the_committed_catalogue_is_the_one_the_registry_generates():
    assert CATALOGUE_PATH.read_text(encoding="utf-8") == block_catalogue_markdown(), (
        "docs/blocks.md is out of date: run manage.py copilot_docs --write-catalogue"
    )


def test_every_block_has_a_section_with_its_schemas_ports_and_a_japanese_line():
    catalogue = block_catalogue_markdown()
    assert set(BLOCK_SUMMARIES_JA) == set(product_blocks())
    assert set(BLOCK_USES) == set(product_blocks())
    for slug, block in product_blocks().items():
        start = catalogue.index(f"## `{slug}`: {block.name}\n")
        end = catalogue.find("\n## ", start + 1)
        section = catalogue[start : end if end > 0 else None]
        assert block.description in section
        assert BLOCK_SUMMARIES_JA[slug] in section
        assert BLOCK_USES[slug] in section
        for key in block.config_schema.get("properties", {}):
            assert f"| `{key}` |" in section, (slug, key)
        assert f"Can be an agent's tool: {'yes' if block.can_be_tool else 'no'}" in section
        assert f"Side effects: {'yes' if block.side_effects else 'no'}" in section
        assert "`error`" in section
    switch = catalogue[catalogue.index("## `switch`") :]
    assert "`case:<key>`, `default`, `error`" in switch.split("\n## ")[0]
    condition = catalogue[catalogue.index("## `condition`") :]
    assert "`true`, `false`, `error`" in condition.split("\n## ")[0]


def test_the_set_holds_readme_sections_every_block_and_the_example_workflows():
    documents = {document.source: document for document in docs_collect()}
    assert len(documents) == len(docs_collect()), "sources must be unique"
    assert "README.md#build-an-agent-of-your-own" in documents
    for slug in product_blocks():
        assert f"docs/blocks.md#{slug}" in documents
    support = documents["workflows/examples/support-bot.json"]
    assert "`faq_search`: `rag-query` block (tool only)" in support.text
    assert "`history` by `out` to `answer`" in support.text
    assert {"workflows/examples/notify.json", "workflows/examples/research-writer.json"} <= set(
        documents
    )


@pytest.mark.django_db
def test_a_first_rebuild_adds_every_document_audited():
    report = copilot_docs_rebuild(actor=None)
    expected = [document.source for document in docs_collect()]
    assert report.added == expected
    assert (report.replaced, report.deleted, report.unchanged) == ([], [], [])
    assert sorted(
        Document.objects.filter(collection__slug=COPILOT_DOCS_COLLECTION).values_list(
            "source", flat=True
        )
    ) == sorted(expected)
    assert AuditEvent.objects.filter(action="workflows.document_added").count() == len(expected)


@pytest.mark.django_db
def test_a_rebuild_with_nothing_changed_writes_nothing():
    copilot_docs_rebuild(actor=None)
    documents = set(Document.objects.values_list("pk", "checksum"))
    chunks = Chunk.objects.count()
    events = AuditEvent.objects.count()

    report = copilot_docs_rebuild(actor=None)

    assert report.changed is False
    assert report.unchanged == [document.source for document in docs_collect()]
    assert set(Document.objects.values_list("pk", "checksum")) == documents
    assert Chunk.objects.count() == chunks
    assert AuditEvent.objects.count() == events


@pytest.mark.django_db
def test_a_changed_document_is_replaced_and_a_removed_one_deleted():
    first = [
        DocSource(source="a.md", title="A", text="Alpha blocks branch."),
        DocSource(source="b.md", title="B", text="Beta blocks fetch."),
        DocSource(source="c.md", title="C", text="Gamma stays the same."),
    ]
    copilot_docs_rebuild(actor=None, documents=first)
    kept = Document.objects.get(source="c.md").pk

    report = copilot_docs_rebuild(
        actor=None,
        documents=[
            DocSource(source="a.md", title="A", text="Alpha blocks branch on a condition."),
            first[2],
            DocSource(source="d.md", title="D", text="Delta is new."),
        ],
    )

    assert (report.added, report.replaced, report.deleted, report.unchanged) == (
        ["d.md"],
        ["a.md"],
        ["b.md"],
        ["c.md"],
    )
    assert sorted(Document.objects.values_list("source", flat=True)) == ["a.md", "c.md", "d.md"]
    assert Document.objects.get(source="a.md").text == "Alpha blocks branch on a condition."
    assert Document.objects.get(source="c.md").pk == kept
    deleted = AuditEvent.objects.filter(action="workflows.document_deleted")
    assert sorted(event.data["reason"] for event in deleted) == ["deleted", "replaced"]


@pytest.mark.django_db
def test_a_bad_document_leaves_the_collection_as_it_was():
    copilot_docs_rebuild(actor=None, documents=[DocSource(source="a.md", title="A", text="x y")])
    with pytest.raises(RagInputError, match=r"empty\.md: the file is empty"):
        copilot_docs_rebuild(
            actor=None, documents=[DocSource(source="empty.md", title="E", text="  ")]
        )
    assert list(Document.objects.values_list("source", flat=True)) == ["a.md"]


@pytest.mark.django_db
def test_the_command_prints_what_changed_then_that_nothing_did():
    first = _docs_command()
    count = len(docs_collect())
    assert "added: docs/blocks.md#http" in first
    assert f"copilot-docs: {count} added, 0 replaced, 0 deleted, 0 unchanged" in first

    again = _docs_command()
    assert again.strip() == f"copilot-docs: 0 added, 0 replaced, 0 deleted, {count} unchanged"


@pytest.mark.django_db
def test_the_command_rewrites_a_stale_catalogue_and_leaves_a_current_one(tmp_path, monkeypatch):
    from workflows.management.commands import copilot_docs

    path = tmp_path / "blocks.md"
    path.write_text("# stale\n", encoding="utf-8")
    monkeypatch.setattr(copilot_docs, "CATALOGUE_PATH", path)

    assert "wrote: blocks.md" in _docs_command("--write-catalogue")
    assert path.read_text(encoding="utf-8") == block_catalogue_markdown()
    assert "unchanged: blocks.md" in _docs_command("--write-catalogue")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("question", "section"),
    [
        ("HTTPブロックでヘッダーを設定するには？", "docs/blocks.md#http"),
        ("エージェントのツールはどう定義しますか", "docs/blocks.md#agent"),
        ("how do I branch on a condition?", "docs/blocks.md#condition"),
        ("会話の履歴を保存するには", "docs/blocks.md#memory-buffer"),
        ("how do I search documents?", "docs/blocks.md#rag-query"),
    ],
)
def test_a_question_about_a_block_finds_its_section_first(question, section):
    copilot_docs_rebuild(actor=None)
    block = block_get("rag-query")
    assert block is not None
    result = block.run(
        config={"collection": COPILOT_DOCS_COLLECTION, "query": question, "limit": 3},
        input={},
        ctx=Context(retriever=rag_retriever()),
    )
    first, *_ = result.output["results"]
    assert first["source"] == section


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_rebuilds_at_once_agree_and_neither_fails():
    # make run started twice, or two servers starting together.
    copilot_docs_rebuild(
        actor=None,
        documents=[
            DocSource(source="a.md", title="A", text="Alpha blocks branch."),
            DocSource(source="b.md", title="B", text="Beta blocks fetch."),
        ],
    )
    wanted = [
        DocSource(source="a.md", title="A", text="Alpha blocks branch on a condition."),
        DocSource(source="c.md", title="C", text="Gamma is new."),
    ]

    results, errors = run_together(lambda _: copilot_docs_rebuild(actor=None, documents=wanted), 2)

    assert errors == []
    assert len(results) == 2
    assert sorted(Document.objects.values_list("source", "text")) == [
        ("a.md", "Alpha blocks branch on a condition."),
        ("c.md", "Gamma is new."),
    ]
    assert Collection.objects.filter(slug=COPILOT_DOCS_COLLECTION).count() == 1
    # The chunks of replaced and deleted documents went with them.
    assert set(Chunk.objects.values_list("document__source", flat=True)) == {"a.md", "c.md"}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_first_rebuilds_at_once_make_one_collection():
    wanted = [DocSource(source="a.md", title="A", text="Alpha blocks branch.")]

    results, errors = run_together(lambda _: copilot_docs_rebuild(actor=None, documents=wanted), 2)

    assert errors == []
    assert len(results) == 2
    assert Collection.objects.filter(slug=COPILOT_DOCS_COLLECTION).count() == 1
    assert list(Document.objects.values_list("source", flat=True)) == ["a.md"]
