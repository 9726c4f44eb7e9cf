"""Admin for document collections: collections, their documents, and an upload form.

Thin: creating a collection, adding files and deleting documents all go through
``workflows.rag.ingest`` (which keeps the full-text index in step and audits); the
admin only parses the form and shows what the service said.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html_join
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from bizagent.admin_base import NoChangeAdminMixin, NoDeleteAdminMixin
from workflows.models import Collection, Document
from workflows.rag.errors import RagInputError
from workflows.rag.ingest import collection_create, document_delete, documents_add

UPLOAD_SUFFIXES = (".txt", ".md")


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one field (Django's documented recipe)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[Any]:
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(item, initial) for item in data]
        return [single(data, initial)]


class DocumentUploadForm(forms.Form):
    collection = forms.ModelChoiceField(
        queryset=Collection.objects.all(), to_field_name="slug", label=_("Collection")
    )
    upload = MultipleFileField(
        label=_("Files"), help_text=_("One or more .txt or .md files (UTF-8).")
    )
    title = forms.CharField(
        required=False,
        max_length=300,
        label=_("Title"),
        help_text=_("Only for a single file; else the file name."),
    )

    def clean_upload(self) -> list[Any]:
        files = self.cleaned_data["upload"]
        wrong = [f.name for f in files if not f.name.lower().endswith(UPLOAD_SUFFIXES)]
        if wrong:
            raise forms.ValidationError(
                gettext("only .txt and .md files can be added, not: %(files)s")
                % {"files": ", ".join(wrong)}
            )
        return files


@admin.register(Collection)
class CollectionAdmin(NoChangeAdminMixin, NoDeleteAdminMixin, admin.ModelAdmin):
    # No service renames a collection: rag-query steps name it by slug.
    list_display = ("slug", "name", "document_count", "created")
    search_fields = ("slug", "name")
    fields = ("slug", "name")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Collection]:
        return super().get_queryset(request).annotate(document_total=Count("documents"))

    @admin.display(description=_("documents"), ordering="document_total")
    def document_count(self, obj: Collection) -> int:
        return getattr(obj, "document_total", 0)

    def save_model(self, request: HttpRequest, obj: Collection, form: Any, change: bool) -> None:
        created = collection_create(slug=obj.slug, name=obj.name, actor=request.user)
        obj.pk, obj.created = created.pk, created.created


@admin.register(Document)
class DocumentAdmin(NoChangeAdminMixin, admin.ModelAdmin):
    # Documents change by uploading the file again (the service replaces it).
    list_display = ("title", "collection", "source", "chunk_count", "created")
    list_filter = ("collection",)
    search_fields = ("title", "source")
    fields = ("collection", "title", "source", "checksum", "created", "chunk_list")
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[Document]:
        return (
            super()
            .get_queryset(request)
            .select_related("collection")
            .annotate(chunk_total=Count("chunks"))
        )

    @admin.display(description=_("passages"), ordering="chunk_total")
    def chunk_count(self, obj: Document) -> int:
        return getattr(obj, "chunk_total", 0)

    @admin.display(description=_("passages"))
    def chunk_list(self, obj: Document) -> str:
        return format_html_join(
            "",
            "<p><strong>#{}</strong> ({}) {}</p>",
            (
                (
                    c.ordinal,
                    ngettext("%(count)s term", "%(count)s terms", c.token_count)
                    % {"count": c.token_count},
                    c.text[:300],
                )
                for c in obj.chunks.order_by("ordinal")
            ),
        )

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        """The "Add document" page is the upload form: files go through ``documents_add``."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = DocumentUploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            try:
                results = documents_add(
                    collection=form.cleaned_data["collection"].slug,
                    files=[(f.name, f.read()) for f in form.cleaned_data["upload"]],
                    title=form.cleaned_data["title"],
                    actor=request.user,
                )
            except RagInputError as exc:
                form.add_error(None, str(exc))
            else:
                for result in results:
                    doc = result.document
                    if result.created:
                        self.message_user(
                            request,
                            gettext("Added %(file)s.") % {"file": doc.source},
                            messages.SUCCESS,
                        )
                    else:
                        self.message_user(
                            request,
                            gettext("Unchanged, already in the collection: %(file)s")
                            % {"file": doc.source},
                        )
                return HttpResponseRedirect(reverse("admin:workflows_document_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": gettext("Upload documents"),
            "form": form,
            **(extra_context or {}),
        }
        return TemplateResponse(request, "admin/workflows/document/upload.html", context)

    def delete_model(self, request: HttpRequest, obj: Document) -> None:
        document_delete(document_id=obj.pk, actor=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Document]) -> None:
        for pk in queryset.values_list("pk", flat=True):
            document_delete(document_id=pk, actor=request.user)
