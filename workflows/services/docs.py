"""Keep the ``copilot-docs`` collection equal to the documentation set.

The rebuild runs at every ``make run``, so the unchanged case must be cheap: each
document's checksum is compared with the stored one before anything is segmented, and
only new or changed texts go through ``documents_add`` (which segments them before its
transaction opens and adds them all or none). Documents whose source is gone are
deleted. Every write is one of the rag services, each audited in its own transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from decisions.actors import Actor
from workflows.docs import ROOT, DocSource, docs_collect
from workflows.models import Collection, Document
from workflows.rag.errors import RagInputError
from workflows.rag.ingest import (
    collection_create,
    document_checksum,
    document_delete,
    documents_add,
)

#: The collection the copilot's ``search_documentation`` step names.
COPILOT_DOCS_COLLECTION = "copilot-docs"


@dataclass
class DocsRebuild:
    """What a rebuild did, by source."""

    added: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.replaced or self.deleted)


def _collection_ensure(*, slug: str, actor: Actor) -> Collection:
    existing = Collection.objects.filter(slug=slug).first()
    if existing is not None:
        return existing
    try:
        return collection_create(slug=slug, name="Copilot documentation", actor=actor)
    except RagInputError:
        # Another rebuild created it between our look and our insert.
        return Collection.objects.get(slug=slug)


def copilot_docs_rebuild(
    *,
    actor: Actor,
    collection: str = COPILOT_DOCS_COLLECTION,
    documents: list[DocSource] | None = None,
    root: Path = ROOT,
) -> DocsRebuild:
    """Make ``collection`` hold exactly ``documents`` (default: ``docs_collect``).

    Unchanged documents are left alone (nothing segmented), changed ones replaced under
    the same source, new ones added, and those whose source is no longer in the set
    deleted. Safe to run twice at once: the rag services settle the same text added
    twice, and a document already deleted by the other run is skipped.
    """
    wanted = docs_collect(root=root) if documents is None else documents
    target = _collection_ensure(slug=collection, actor=actor)
    stored = {
        source: (pk, checksum)
        for pk, source, checksum in Document.objects.filter(collection=target).values_list(
            "pk", "source", "checksum"
        )
    }
    report = DocsRebuild()
    to_add: list[DocSource] = []
    for document in wanted:
        current = stored.get(document.source)
        if current is not None and current[1] == document_checksum(document.text):
            report.unchanged.append(document.source)
        else:
            to_add.append(document)
            (report.replaced if current else report.added).append(document.source)
    # documents_add takes a title for a single file only and each document has its own,
    # so each goes in its own call (each one all or none).
    for document in to_add:
        documents_add(
            collection=collection,
            files=[(document.source, document.text.encode("utf-8"))],
            title=document.title,
            actor=actor,
        )
    wanted_sources = {document.source for document in wanted}
    for source, (pk, _) in sorted(stored.items()):
        if source in wanted_sources:
            continue
        try:
            document_delete(document_id=pk, actor=actor)
        except RagInputError:
            continue  # already gone: a concurrent rebuild deleted it
        report.deleted.append(source)
    return report
