"""Document collections for the ``rag-query`` block: Collection → Document → Chunk.

Only ``workflows.rag.ingest`` writes these rows, and it keeps the full-text index in
step in the same transaction (on SQLite an FTS5 table ``workflows_chunk_fts`` whose
rowid is the chunk's id; on PostgreSQL a GIN index over the chunks' tsvector, which the
database maintains itself). Both are created by migration ``0003_documents``.
"""

from __future__ import annotations

from django.db import models

__all__ = ["Chunk", "Collection", "Document"]


class Collection(models.Model):
    """A named set of documents a workflow searches (``rag-query``'s ``collection``)."""

    slug = models.SlugField(max_length=80, unique=True)
    name = models.CharField(max_length=200)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug


class Document(models.Model):
    """One file's text, split into chunks; ``checksum`` makes re-adding it a no-op."""

    collection = models.ForeignKey(Collection, on_delete=models.PROTECT, related_name="documents")
    title = models.CharField(max_length=300)
    source = models.CharField(max_length=500, help_text="Where the text came from (a file name).")
    text = models.TextField()
    checksum = models.CharField(max_length=64, help_text="SHA-256 of the text (UTF-8).")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["collection", "title", "id"]
        constraints = [
            # The same text twice in one collection would only double its weight.
            models.UniqueConstraint(
                fields=["collection", "checksum"], name="workflows_document_unique_checksum"
            ),
        ]

    def __str__(self) -> str:
        return self.title


class Chunk(models.Model):
    """A passage of a document: what search ranks and returns."""

    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="chunks")
    ordinal = models.PositiveIntegerField(help_text="Position in the document, from 0.")
    text = models.TextField()
    segmented = models.TextField(help_text="Index terms separated by single spaces.")
    token_count = models.PositiveIntegerField(help_text="How many index terms (BM25's length).")

    class Meta:
        ordering = ["document", "ordinal"]
        constraints = [
            models.UniqueConstraint(
                fields=["document", "ordinal"], name="workflows_chunk_unique_ordinal"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.document_id}#{self.ordinal}"
