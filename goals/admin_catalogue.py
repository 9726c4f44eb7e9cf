"""The workflow catalogue admin: a person corrects each workflow's yield, cost and cap.

The figures are the planner's arithmetic, so an edit goes through
``catalogue_item_update`` (the JSON loader's checks and messages, one error per field,
audited old -> new), never a plain ``save()``. What an item *is* (its key, workflow,
metric, volume input) stays read-only: it is the workflow's nature, not an estimate.
The list's button installs the catalogue's workflows as drafts
(``catalogue_workflows_install``); publishing them stays a person's decision.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from bizagent.admin_base import NoAddDeleteAdminMixin
from goals.models import CatalogueItem
from goals.services.catalogue import (
    EDITABLE_FIELDS,
    CatalogueItemInvalid,
    catalogue_item_check,
    catalogue_item_update,
    catalogue_workflows_install,
)

INSTALL_PERMISSION = "workflows.add_workflow"
#: What an item is, shown read-only: changing it would make it another workflow.
FIXED_FIELDS = (
    "title",
    "key",
    "workflow",
    "metric",
    "unit",
    "currency",
    "volume_param",
    "description",
    "updated_at",
    "updated_by",
)


class CatalogueItemForm(forms.ModelForm):
    """The four figures a person edits; the service's checks give the messages.

    The decimals are text fields so that what a person typed reaches the loader's checks
    as typed ("0.5 JPY has more decimals than JPY has"), not a generic number error.
    """

    yield_per_unit = forms.CharField(
        max_length=40, help_text=_("Of the metric, per unit of volume (e.g. 0.15 customers).")
    )
    unit_cost = forms.CharField(max_length=40, help_text=_("In the item's currency, per unit."))
    max_per_day = forms.IntegerField(help_text=_("Units a day at most (the planner's cap)."))
    run_inputs = forms.JSONField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 6, "cols": 80}),
        help_text=(
            _(
                'The workflow\'s other inputs as JSON, e.g. {"prospects_url": '
                '"https://crm.example.com/prospects", "language": "ja"}. Never a password or key.'
            )
        ),
    )

    class Meta:
        model = CatalogueItem
        fields = list(EDITABLE_FIELDS)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk and not self.is_bound:
            for name in ("yield_per_unit", "unit_cost"):
                self.initial[name] = format(getattr(self.instance, name).normalize(), "f")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if "run_inputs" in data and data["run_inputs"] is None:
            data["run_inputs"] = {}  # an emptied box means "no inputs", not an error
        values = {name: data[name] for name in EDITABLE_FIELDS if name in data}
        try:
            catalogue_item_check(item=self.instance, values=values)
        except CatalogueItemInvalid as exc:
            for field, problems in exc.errors.items():
                for problem in problems:
                    # add_error drops the field from cleaned_data, so the model's own
                    # checks do not repeat the message in other words.
                    self.add_error(None if field == "__all__" else field, problem)
        return data


@admin.register(CatalogueItem)
class CatalogueItemAdmin(NoAddDeleteAdminMixin, admin.ModelAdmin):
    form = CatalogueItemForm
    change_list_template = "goals/catalogue_change_list.html"
    list_display = ("title", "metric", "yield_per_unit", "unit_cost", "max_per_day", "enabled")
    list_filter = ("enabled", "metric")
    readonly_fields = ("yield_source_note", *FIXED_FIELDS)
    fieldsets = (
        (
            _("Figures the planner multiplies"),
            {
                "fields": ("yield_per_unit", "unit_cost", "max_per_day", "enabled"),
                "description": _("Correct these with your own figures once you have them."),
            },
        ),
        (
            _("What the workflow runs with"),
            {
                "fields": ("run_inputs",),
                "description": _("Where its data comes from and goes to: your own services."),
            },
        ),
        (_("Where the defaults come from"), {"fields": ("yield_source_note",)}),
        (_("The workflow (fixed)"), {"fields": FIXED_FIELDS}),
    )

    @admin.display(description=_("Source of the default figures"))
    def yield_source_note(self, obj: CatalogueItem) -> str:
        return format_html('<p class="catalogue-yield-source">{}</p>', obj.yield_source)

    def save_model(
        self, request: HttpRequest, obj: CatalogueItem, form: forms.ModelForm, change: bool
    ) -> None:
        values = {name: form.cleaned_data[name] for name in form.changed_data}
        if values:
            # The service re-checks under the row lock and writes the audit row.
            saved = catalogue_item_update(item_id=obj.pk, values=values, actor=request.user)
            for name in EDITABLE_FIELDS:
                setattr(obj, name, getattr(saved, name))

    # -- installing the workflows -------------------------------------------------------

    def get_urls(self) -> list:
        wrap = self.admin_site.admin_view
        return [
            path(
                "install/",
                wrap(require_POST(self.install_view)),
                name="goals_catalogueitem_install",
            ),
            *super().get_urls(),
        ]

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        context = {
            **(extra_context or {}),
            "can_install_workflows": request.user.has_perm(INSTALL_PERMISSION),
        }
        return super().changelist_view(request, extra_context=context)

    def install_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request) or not request.user.has_perm(INSTALL_PERMISSION):
            raise PermissionDenied
        results = catalogue_workflows_install(actor=request.user)
        created = [r.key for r in results if r.outcome == "created"]
        there = [r.key for r in results if r.outcome == "exists"]
        if created:
            self.message_user(
                request,
                gettext(
                    "Imported as drafts: %(keys)s. Publish each on its workflow page "
                    "to let goals run it."
                )
                % {"keys": ", ".join(created)},
                messages.SUCCESS,
            )
        if there:
            self.message_user(
                request,
                gettext("Already there: %(keys)s.") % {"keys": ", ".join(there)},
                messages.INFO,
            )
        return HttpResponseRedirect(reverse("admin:goals_catalogueitem_changelist"))
