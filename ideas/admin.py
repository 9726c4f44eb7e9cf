"""Admin for the portfolio. Thin: every write goes through ``ideas.services``.

The idea change form edits only the human score corrections (the model's output is
read-only here); saving it calls ``idea_human_correct``. Bulk actions call
``idea_mark_reviewed`` and ``idea_archive``. Themes and IP profiles are created by
``manage.py newtheme``; an active IP profile is frozen and shown read-only.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, OuterRef, Prefetch, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from bizagent.admin_base import NoAddAdminMixin, NoAddDeleteAdminMixin, ReadOnlyAdminMixin
from bizagent.rendering import markdown_render
from ideas import admin_themes
from ideas.admin_idea_list import (
    idea_row_buttons,
    idea_row_urls,
    idea_score_badges,
    idea_title_cell,
)
from ideas.models import SCORE_FIELDS, Idea, IdeaRefusal, IPProfile, Snapshot, Tag, Theme
from ideas.selectors import idea_changes, theme_active
from ideas.services import (
    IPProfileFrozen,
    idea_archive,
    idea_human_correct,
    idea_mark_reviewed,
    ip_profile_update,
)


def _pretty_json(value: Any) -> SafeString:
    return format_html(
        "<pre style='white-space:pre-wrap'>{}</pre>",
        json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True),
    )


class TagFilter(admin.SimpleListFilter):
    """The 25 most used tags of the active theme (not every tag ever created)."""

    title = _("tag")
    parameter_name = "tag"

    def lookups(
        self, request: HttpRequest, model_admin: admin.ModelAdmin[Any]
    ) -> list[tuple[str, str]]:
        theme = theme_active()
        if theme is None:
            return []
        # Each tag's ideas counted on the link table's tag index alone (a JOIN counting
        # ideas_idea_tags.idea_id read every link row: ~450 ms at 100,000 ideas).
        through = Idea.tags.through
        # django-stubs does not see annotations on an auto-created through model.
        uses = (
            through.objects.filter(tag_id=OuterRef("pk"))  # type: ignore[misc]
            .order_by()
            .values("tag_id")
            .annotate(n=Count("pk"))
            .values("n")
        )
        rows = (
            Tag.objects.filter(theme=theme)
            .annotate(n=Coalesce(Subquery(uses), 0))
            .order_by("-n", "name")
            .values_list("pk", "name", "n")[:25]
        )
        return [(str(pk), f"{name} ({n})") for pk, name, n in rows]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value():
            return queryset.filter(tags__pk=self.value())
        return queryset


class ReviewedFilter(admin.SimpleListFilter):
    title = _("reviewed")
    parameter_name = "reviewed"

    def lookups(
        self, request: HttpRequest, model_admin: admin.ModelAdmin[Any]
    ) -> list[tuple[str, str]]:
        return [
            ("yes", gettext("Reviewed")),
            ("no", gettext("Not reviewed")),
            ("corrected", gettext("Human-corrected")),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "yes":
            return queryset.filter(reviewed_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(reviewed_at__isnull=True)
        if self.value() == "corrected":
            return queryset.exclude(
                human_brand_fit__isnull=True,
                human_novelty__isnull=True,
                human_feasibility__isnull=True,
            )
        return queryset


@admin.register(Idea)
class IdeaAdmin(NoAddDeleteAdminMixin, admin.ModelAdmin):
    # Ideas come from the loop; archive instead of deleting, so the change log and the
    # loop's history stay intact.
    list_display = (
        "title_summary",
        "scores",
        "status",
        "priority",
        "tag_list",
        "reviewed_at",
        "updated_at",
    )
    list_display_links = ("title_summary",)
    list_filter = ("status", ReviewedFilter, TagFilter, "theme")
    search_fields = ("title", "summary", "=tags__name")
    list_select_related = ("theme",)
    list_per_page = 50
    # COUNT(*) over 100,000 rows on every page view buys nothing for a reviewer.
    show_full_result_count = False
    ordering = ("-priority", "-pk")
    actions = ("mark_reviewed", "archive")
    fieldsets = (
        (None, {"fields": ("theme", "title", "summary", "status", "tag_list", "related_list")}),
        (_("Pitch"), {"fields": ("target_audience", "value_proposition", "revenue_model")}),
        (
            _("Scores (model)"),
            {"fields": ("brand_fit", "novelty", "feasibility", "priority")},
        ),
        (
            _("Your corrections (0–10; empty = use the model's score)"),
            {"fields": ("human_brand_fit", "human_novelty", "human_feasibility")},
        ),
        (
            _("History"),
            {
                "fields": (
                    "created_by_iteration_id",
                    "updated_by_iteration_id",
                    "reviewed_at",
                    "reviewed_by",
                    "created_at",
                    "updated_at",
                    "change_log",
                )
            },
        ),
    )
    readonly_fields = (
        "theme",
        "title",
        "summary",
        "status",
        "tag_list",
        "related_list",
        "target_audience",
        "value_proposition",
        "revenue_model",
        "brand_fit",
        "novelty",
        "feasibility",
        "priority",
        "created_by_iteration_id",
        "updated_by_iteration_id",
        "reviewed_at",
        "reviewed_by",
        "created_at",
        "updated_at",
        "change_log",
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        # Refusals newest first, for "refused: …" on the page's rows (one query a page).
        refusals = Prefetch(
            "refusals",
            queryset=IdeaRefusal.objects.order_by("-created_at", "-pk").only(
                "pk", "idea_id", "reasons", "created_at"
            ),
        )
        return super().get_queryset(request).prefetch_related("tags", refusals)

    def get_list_display(self, request: HttpRequest) -> Any:
        # The row buttons only for people who may use them (the services check again).
        may_change = self.has_change_permission(request)

        def row_actions(obj: Idea) -> SafeString:
            return idea_row_buttons(obj, may_change=may_change)

        row_actions.short_description = _("actions")  # type: ignore[attr-defined]
        return (*self.list_display, row_actions) if may_change else self.list_display

    def get_urls(self) -> list:
        return [*idea_row_urls(self), *super().get_urls()]

    @admin.display(description=_("idea"), ordering="title")
    def title_summary(self, obj: Idea) -> SafeString:
        return idea_title_cell(obj)

    @admin.display(description=_("scores"), ordering="-priority")
    def scores(self, obj: Idea) -> SafeString:
        return idea_score_badges(obj)

    @admin.display(description=_("tags"))
    def tag_list(self, obj: Idea) -> str:
        return ", ".join(obj.tag_names)

    @admin.display(description=_("related"))
    def related_list(self, obj: Idea) -> SafeString:
        related = obj.related.order_by("-priority")[:20]
        return format_html_join(
            ", ",
            "<a href='{}'>#{} {}</a>",
            ((reverse("admin:ideas_idea_change", args=[r.pk]), r.pk, r.title) for r in related),
        )

    @admin.display(description=_("change log (latest 50)"))
    def change_log(self, obj: Idea) -> SafeString:
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    f"{c.at:%Y-%m-%d %H:%M}",
                    c.field,
                    json.dumps(c.old, ensure_ascii=False),
                    json.dumps(c.new, ensure_ascii=False),
                    c.iteration_id or "",
                    c.actor or c.reason,
                )
                for c in idea_changes(idea=obj)
            ),
        )
        return format_html(
            "<table><tr><th>at</th><th>field</th><th>old</th><th>new</th>"
            "<th>iteration</th><th>by / reason</th></tr>{}</table>",
            rows,
        )

    def save_model(
        self, request: HttpRequest, obj: Idea, form: forms.ModelForm[Idea], change: bool
    ) -> None:
        corrections = {
            name: form.cleaned_data.get(f"human_{name}")
            for name in SCORE_FIELDS
            if f"human_{name}" in form.changed_data
        }
        if corrections:
            idea_human_correct(idea=obj, user=request.user, **corrections)

    def save_related(
        self, request: HttpRequest, form: forms.ModelForm[Idea], formsets: Any, change: bool
    ) -> None:
        """Nothing: tags and links are the loop's, and there are no inlines."""

    @admin.action(description=_("Mark selected ideas reviewed"))
    def mark_reviewed(self, request: HttpRequest, queryset: QuerySet) -> None:
        try:
            count = idea_mark_reviewed(
                idea_ids=list(queryset.values_list("pk", flat=True)), user=request.user
            )
        except PermissionDenied as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return
        self.message_user(
            request,
            ngettext("%(count)s idea marked reviewed.", "%(count)s ideas marked reviewed.", count)
            % {"count": count},
        )

    @admin.action(description=_("Archive selected ideas"))
    def archive(self, request: HttpRequest, queryset: QuerySet) -> None:
        try:
            count = idea_archive(
                idea_ids=list(queryset.values_list("pk", flat=True)), user=request.user
            )
        except PermissionDenied as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return
        self.message_user(
            request,
            ngettext("%(count)s idea archived.", "%(count)s ideas archived.", count)
            % {"count": count},
        )


@admin.register(IdeaRefusal)
class IdeaRefusalAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("title", "theme", "reason_list", "iteration_id", "created_at")
    list_filter = ("theme",)
    search_fields = ("title",)
    show_full_result_count = False
    readonly_fields = ("theme", "idea", "title", "reason_list", "data_pretty", "iteration_id")
    exclude = ("data", "reasons", "fingerprint")

    @admin.display(description=_("reasons"))
    def reason_list(self, obj: IdeaRefusal) -> str:
        return "; ".join(obj.reasons)

    @admin.display(description=_("proposal"))
    def data_pretty(self, obj: IdeaRefusal) -> SafeString:
        return _pretty_json(obj.data)


@admin.register(IPProfile)
class IPProfileAdmin(NoAddAdminMixin, admin.ModelAdmin):
    # Profiles are loaded with manage.py newtheme.
    list_display = ("name", "version", "status", "activated_at", "created_at")
    list_filter = ("status",)
    search_fields = ("name",)
    readonly_fields = ("name", "version", "status", "content_sha256", "activated_at", "created_at")

    def has_change_permission(self, request: HttpRequest, obj: IPProfile | None = None) -> bool:
        # An active profile is frozen: the admin shows it read-only and refuses a POST.
        if obj is not None and obj.is_frozen:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: IPProfile | None = None) -> bool:
        return obj is not None and not obj.is_frozen and super().has_delete_permission(request, obj)

    def save_model(
        self, request: HttpRequest, obj: IPProfile, form: forms.ModelForm[IPProfile], change: bool
    ) -> None:
        document = {name: form.cleaned_data.get(name) for name in obj.as_document()}
        try:
            ip_profile_update(profile=obj, document=document, actor=request.user)
        except IPProfileFrozen as exc:
            raise PermissionDenied(str(exc)) from exc


@admin.register(Theme)
class ThemeAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    # manage.py newtheme validates and switches themes.
    list_display = ("name", "status", "ip_profile", "activated_at", "archived_at")
    list_filter = ("status",)
    search_fields = ("name",)
    fields = (
        "name",
        "status",
        "ip_profile",
        "activated_at",
        "archived_at",
        "policy_pretty",
        "config_pretty",
    )
    readonly_fields = fields

    def get_urls(self) -> list:
        # Upload, preview and activate (ideas/admin_themes.py) before the object URLs.
        return [*admin_themes.theme_urls(self), *super().get_urls()]

    @admin.display(description=_("iteration policy (with defaults)"))
    def policy_pretty(self, obj: Theme) -> SafeString:
        return _pretty_json(obj.iteration_policy)

    @admin.display(description=_("config"))
    def config_pretty(self, obj: Theme) -> SafeString:
        return _pretty_json(obj.config)


@admin.register(Snapshot)
class SnapshotAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("__str__", "theme", "iteration_count", "idea_count", "created_at")
    # A date filter instead of a date hierarchy (a DISTINCT over every row's date).
    list_filter = ("theme", ("created_at", admin.DateFieldListFilter))
    list_select_related = ("theme",)

    @admin.display(description=_("ideas"))
    def idea_count(self, obj: Snapshot) -> Any:
        return obj.stats.get("ideas")

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        """A snapshot is a page to read, not a form: render its Markdown."""
        snapshot = self.get_object(request, object_id)
        if snapshot is None or not self.has_view_permission(request, snapshot):
            return super().change_view(request, object_id, form_url, extra_context)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": str(snapshot),
            "snapshot": snapshot,
            "body": markdown_render(snapshot.markdown),
            "stats_json": json.dumps(snapshot.stats, ensure_ascii=False, indent=2, sort_keys=True),
        }
        return TemplateResponse(request, "ideas/snapshot_page.html", context)
