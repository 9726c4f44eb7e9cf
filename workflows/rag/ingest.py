"""The only writers of collections, documents, chunks and the full-text index.

On SQLite the index is an FTS5 table (``workflows_chunk_fts``, rowid = chunk id) that
these services write in the same transaction as the chunks; on PostgreSQL it is a GIN
expression index the database maintains with the rows. Segmentation (janome) is CPU
work done before the transaction opens, so no lock waits on it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from decisions.actors import Actor
from decisions.services import audit_log
from workflows.models import Chunk, Collection, Document
from workflows.rag.chunking import chunks_cut
from workflows.rag.errors import CollectionNotFound, RagInputError
from workflows.rag.segment import segment_terms

#: A document larger than this is refused: it would be one file dwarfing the rest.
DOCUMENT_MAX_BYTES = 5_000_000


@dataclass(frozen=True)
class DocumentAdded:
    """What ``document_add`` did: the document, and whether it was new."""

    document: Document
    created: bool
    #: The earlier version of the same source that this one replaced, if any.
    replaced_id: int | None = None


def collection_create(*, slug: str, name: str = "", actor: Actor) -> Collection:
    """Create a document collection (``slug`` is what ``rag-query`` names)."""
    collection = Collection(slug=slug.strip(), name=(name or slug).strip())
    try:
        collection.full_clean()
    except ValidationError as exc:
        raise RagInputError(_validation_message(exc)) from exc
    with transaction.atomic():
        try:
            with transaction.atomic():
                collection.save()
        except IntegrityError as exc:  # lost a race to create the same slug
            raise RagInputError(f"a collection called {slug!r} already exists") from exc
        audit_log(
            action="workflows.collection_created",
            actor=actor,
            subject=collection,
            data={"slug": collection.slug, "name": collection.name},
        )
    return collection


def document_text_decode(*, data: bytes, source: str) -> str:
    """A file's bytes as text: UTF-8 (a BOM is dropped), refusing binary and empty files."""
    if len(data) > DOCUMENT_MAX_BYTES:
        raise RagInputError(
            f"{source}: {len(data)} bytes is larger than the {DOCUMENT_MAX_BYTES}-byte limit"
        )
    if b"\x00" in data:
        raise RagInputError(f"{source}: a binary file, not text (only .txt and .md are indexed)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RagInputError(
            f"{source}: not UTF-8 text (byte {exc.start} cannot be decoded); "
            "save it as UTF-8 and add it again"
        ) from exc
    return text


@dataclass(frozen=True)
class _Prepared:
    """A file made ready to write: decoded, chunked and segmented (no database work)."""

    source: str
    title: str
    text: str
    checksum: str
    passages: list[str]
    terms: list[list[str]]


def document_checksum(text: str) -> str:
    """The checksum a document's text is stored under (line ends normalised first), so a
    caller can tell an unchanged text without segmenting it."""
    return hashlib.sha256(_newlines_normalise(text).encode("utf-8")).hexdigest()


def _newlines_normalise(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _prepare(*, source: str, text: str | bytes, title: str) -> _Prepared:
    source = source.strip()
    if not source:
        raise RagInputError("a document needs a source (the file name it came from)")
    if isinstance(text, bytes):
        text = document_text_decode(data=text, source=source)
    text = _newlines_normalise(text)
    if not text.strip():
        raise RagInputError(f"{source}: the file is empty; there is nothing to index")
    passages = chunks_cut(text)
    terms = [segment_terms(passage) for passage in passages]
    if not any(terms):
        raise RagInputError(f"{source}: the file has no words to index (only punctuation?)")
    return _Prepared(
        source=source,
        title=(title.strip() or _title_from(source))[:300],
        text=text,
        checksum=document_checksum(text),
        passages=passages,
        terms=terms,
    )


def document_add(
    *, collection: str, source: str, text: str | bytes, title: str = "", actor: Actor
) -> DocumentAdded:
    """Add a document to the collection with slug ``collection``, chunked and indexed.

    ``text`` may be a file's bytes (decoded strictly as UTF-8). Re-adding a text the
    collection already holds is a no-op (same checksum). Adding a new text under a
    ``source`` the collection already holds replaces that document. Raises
    ``RagInputError`` (nothing written) for an unknown collection or an empty or
    binary file.
    """
    prepared = _prepare(source=source, text=text, title=title)
    with transaction.atomic():
        return _write(target=_collection_get(collection), prepared=prepared, actor=actor)


def documents_add(
    *, collection: str, files: list[tuple[str, bytes]], title: str = "", actor: Actor
) -> list[DocumentAdded]:
    """Add several files (``(source, bytes)``) at once: all of them or, on any bad
    file, none (the error names the file). ``title`` is only for a single file."""
    if not files:
        raise RagInputError("no files given")
    if title.strip() and len(files) > 1:
        raise RagInputError("a title can only be given for a single file")
    # Decode and segment every file before writing any, so a bad third file leaves
    # nothing half added (and no lock is held while janome works).
    prepared = [_prepare(source=source, text=data, title=title) for source, data in files]
    with transaction.atomic():
        target = _collection_get(collection)
        return [_write(target=target, prepared=item, actor=actor) for item in prepared]


def _write(*, target: Collection, prepared: _Prepared, actor: Actor) -> DocumentAdded:
    """Insert one prepared document, its chunks and index rows (inside a transaction)."""
    existing = Document.objects.filter(collection=target, checksum=prepared.checksum).first()
    if existing is not None:
        return DocumentAdded(document=existing, created=False)
    replaced = Document.objects.filter(collection=target, source=prepared.source).first()
    replaced_id = replaced.pk if replaced is not None else None
    if replaced is not None:
        _document_remove(replaced, actor=actor, reason="replaced")
    document = Document(
        collection=target,
        title=prepared.title,
        source=prepared.source,
        text=prepared.text,
        checksum=prepared.checksum,
    )
    try:
        # Uniqueness is the database's to judge: checked here too, a worker that lost
        # the race to add the same text would be told "already exists" instead of being
        # handed the winner's document below.
        document.full_clean(validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        raise RagInputError(f"{prepared.source}: {_validation_message(exc)}") from exc
    try:
        with transaction.atomic():
            document.save()
    except IntegrityError:
        # Another worker added the same text between our check and our insert.
        existing = Document.objects.get(collection=target, checksum=prepared.checksum)
        return DocumentAdded(document=existing, created=False)
    chunks = Chunk.objects.bulk_create(
        Chunk(
            document=document,
            ordinal=ordinal,
            text=passage,
            segmented=" ".join(terms),
            token_count=len(terms),
        )
        for ordinal, (passage, terms) in enumerate(
            zip(prepared.passages, prepared.terms, strict=True)
        )
    )
    _index_add(chunks)
    audit_log(
        action="workflows.document_added",
        actor=actor,
        subject=document,
        data={
            "collection": target.slug,
            "title": document.title,
            "source": document.source,
            "checksum": document.checksum,
            "chunks": len(chunks),
            "replaced": replaced_id,
        },
    )
    return DocumentAdded(document=document, created=True, replaced_id=replaced_id)


def document_delete(*, document_id: int, actor: Actor) -> None:
    """Remove a document, its chunks and their index entries."""
    with transaction.atomic():
        document = (
            Document.objects.select_for_update()
            .select_related("collection")
            .filter(pk=document_id)
            .first()
        )
        if document is None:
            raise RagInputError(f"no document has id {document_id}")
        _document_remove(document, actor=actor, reason="deleted")


def _document_remove(document: Document, *, actor: Actor, reason: str) -> None:
    chunk_ids = list(document.chunks.values_list("pk", flat=True))
    _index_remove(chunk_ids)
    audit_log(
        action="workflows.document_deleted",
        actor=actor,
        subject=document,
        data={
            "collection": document.collection.slug,
            "title": document.title,
            "source": document.source,
            "checksum": document.checksum,
            "reason": reason,
        },
    )
    document.delete()


def _collection_get(slug: str) -> Collection:
    collection = Collection.objects.filter(slug=slug).first()
    if collection is None:
        raise CollectionNotFound(slug)
    return collection


def _index_add(chunks: list[Chunk]) -> None:
    # PostgreSQL's GIN expression index follows the rows by itself.
    if connection.vendor == "sqlite" and chunks:
        with connection.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO workflows_chunk_fts (rowid, segmented) VALUES (%s, %s)",
                [(chunk.pk, chunk.segmented) for chunk in chunks],
            )


def _index_remove(chunk_ids: list[int]) -> None:
    if connection.vendor == "sqlite" and chunk_ids:
        with connection.cursor() as cursor:
            cursor.executemany(
                "DELETE FROM workflows_chunk_fts WHERE rowid = %s", [(pk,) for pk in chunk_ids]
            )


def _title_from(source: str) -> str:
    name = source.replace("\\", "/").rsplit("/", 1)[-1]
    stem, dot, _ = name.rpartition(".")
    return stem if dot and stem else name


def _validation_message(exc: ValidationError) -> str:
    if hasattr(exc, "error_dict"):
        return "; ".join(
            f"{field}: {' '.join(str(m) for m in messages)}"
            for field, messages in exc.message_dict.items()
        )
    return " ".join(exc.messages)
