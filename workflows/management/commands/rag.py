"""``manage.py rag``: document collections from the terminal.

    rag create SLUG [--name NAME]
    rag add COLLECTION FILE... [--title TITLE]
    rag search COLLECTION QUERY [--limit N] [--json]

Every file is read and checked before any is added (all or none); an unchanged file
already in the collection is reported and left alone.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from workflows.management.commands._language import StaffCommand
from workflows.rag.errors import RagInputError
from workflows.rag.ingest import collection_create, documents_add
from workflows.rag.search import rag_search


class Command(StaffCommand):
    help = "Create document collections, add .txt/.md files to them, and search them."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="create a collection")
        create.add_argument("slug")
        create.add_argument("--name", default="")
        add = sub.add_parser("add", help="add files to a collection")
        add.add_argument("collection")
        add.add_argument("files", nargs="+", metavar="FILE")
        add.add_argument("--title", default="", help="the document's title (one file only)")
        search = sub.add_parser("search", help="search a collection")
        search.add_argument("collection")
        search.add_argument("query")
        search.add_argument("--limit", type=int, default=5)
        search.add_argument("--json", action="store_true", help="print the results as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            getattr(self, f"_{options['action']}")(options)
        except RagInputError as exc:
            raise CommandError(str(exc)) from exc

    def _create(self, options: dict[str, Any]) -> None:
        collection = collection_create(slug=options["slug"], name=options["name"], actor=None)
        self.stdout.write(
            self.style.SUCCESS(_("created collection %(slug)s") % {"slug": collection.slug})
        )

    def _add(self, options: dict[str, Any]) -> None:
        files = []
        for name in options["files"]:
            path = Path(name)
            try:
                files.append((path.name, path.read_bytes()))
            except OSError as exc:
                raise CommandError(
                    _("%(file)s: cannot read it (%(reason)s); nothing added")
                    % {"file": name, "reason": exc.strerror}
                ) from exc
        for result in documents_add(
            collection=options["collection"], files=files, title=options["title"], actor=None
        ):
            document = result.document
            if not result.created:
                self.stdout.write(
                    _("unchanged: %(file)s (already document #%(id)s)")
                    % {"file": document.source, "id": document.pk}
                )
                continue
            chunks = document.chunks.count()
            words = {"file": document.source, "id": document.pk, "count": chunks}
            if result.replaced_id:
                text = ngettext(
                    "added: %(file)s as document #%(id)s (%(count)s chunk, replacing #%(old)s)",
                    "added: %(file)s as document #%(id)s (%(count)s chunks, replacing #%(old)s)",
                    chunks,
                ) % {**words, "old": result.replaced_id}
            else:
                text = (
                    ngettext(
                        "added: %(file)s as document #%(id)s (%(count)s chunk)",
                        "added: %(file)s as document #%(id)s (%(count)s chunks)",
                        chunks,
                    )
                    % words
                )
            self.stdout.write(self.style.SUCCESS(text))

    def _search(self, options: dict[str, Any]) -> None:
        results = rag_search(
            collection=options["collection"], query=options["query"], limit=options["limit"]
        )
        if options["json"]:
            self.stdout.write(json.dumps(results, ensure_ascii=False, indent=2))
            return
        if not results:
            self.stdout.write(_("no matches"))
        for rank, result in enumerate(results, start=1):
            excerpt = " ".join(result["text"].split())[:160]
            self.stdout.write(
                f"{rank}. {result['score']:.4f}  {result['title']} "
                f"({result['source']} #{result['chunk']})\n   {excerpt}"
            )
