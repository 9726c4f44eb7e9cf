"""What goes wrong with document collections, said so a person can fix it."""

from __future__ import annotations


class RagInputError(ValueError):
    """Bad input to a collection service (an empty or binary file, an unknown collection)."""


class CollectionNotFound(RagInputError):
    """No collection has that slug."""

    def __init__(self, slug: str) -> None:
        super().__init__(f"no document collection is called {slug!r}")
        self.slug = slug
