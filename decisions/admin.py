"""Governance admin: the approval queue, decisions with their audit trail, budgets
with a spend bar, the read-only audit log, policy thresholds and the Sheets outbox.
Every change goes through ``decisions.services``."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q, QuerySet, Sum, Value
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.timesince import timesince, timeuntil
from django.utils.translation import gettext, gettext_lazy, ngettext

from bizagent.admin_base import NoAddDeleteAdminMixin, NoDeleteAdminMixin, ReadOnlyAdminMixin
from decisions import (
    admin_sheets,  # noqa: F401 - registers the Sheets outbox admin
    admin_telegram,  # noqa: F401 - registers the Telegram admin
)
from decisions.admin_queue import decide_view, queue_view, time_left
from decisions.models import AuditEvent, Budget, BudgetSpend, Decision, Period, PolicySettings
from decisions.presentation import decision_summary
from decisions.selectors import (
    budget_status,
    decision_audit_trail,
    period_bounds,
    policy_settings_get,
    user_may_decide,
)
from decisions.services import budget_create, budget_update, policy_settings_update
from decisions.services.policy import EDITABLE

_ = gettext_lazy


def due_words(decision: Decision, now: datetime | None = None) -> str:
    """When a pending decision is due, in words: "in 3 hours", "overdue by 20 minutes"."""
    if decision.status != Decision.Status.PENDING:
        return "—"
    now = now or timezone.now()
    if decision.due_at > now:
        return gettext("in %(time)s") % {"time": timeuntil(decision.due_at, now, depth=1)}
    return gettext("overdue by %(time)s") % {"time": timesince(decision.due_at, now, depth=1)}


@admin.register(Decision)
class DecisionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("business_summary", "urgency", "due_in_words", "status", "decided_by")
    list_display_links = ("business_summary",)
    # Each row's summary comes from its kind's presenter, which may read the row it is
    # about: a page of 25 keeps that bounded (the list is a queue to read, not a report).
    list_per_page = 25
    list_filter = ("status", "kind", "urgency", ("requested_at", admin.DateFieldListFilter))
    search_fields = ("title", "situation", "subject_repr", "action")
    # Who decided, in the same query: one lookup per row made 74 queries at 10,000.
    list_select_related = ("decided_by",)
    # The model's analysis channel is deliberately absent: approvers never see it.
    fields = (
        "title",
        "kind",
        "status",
        "urgency",
        "situation",
        "impact",
        "option_list",
        "subject_repr",
        "action",
        "action_args",
        "action_digest",
        "requested_by",
        "requested_at",
        "due_at",
        "delivery",
        "reminders_sent",
        "chosen_option",
        "comment",
        "decided_by",
        "decided_at",
        "applied_at",
        "outcome",
        "result",
        "audit_trail",
    )
    readonly_fields = fields
    # The queue's approve/reject controls, on the decision's own page (approvers only).
    change_form_template = "admin/decisions/decision/change_form.html"

    def change_view(self, request: HttpRequest, object_id: str, form_url="", extra_context=None):
        decision = self.get_object(request, unquote(object_id))
        context = dict(extra_context or {})
        if (
            decision is not None
            and decision.status == Decision.Status.PENDING
            and user_may_decide(request.user)
        ):
            decision.time_left = time_left(decision)
            context["decide_decision"] = decision
        return super().change_view(request, object_id, form_url, context)

    def get_urls(self):
        site = self.admin_site
        return [
            path(
                "queue/",
                site.admin_view(lambda r: queue_view(r, admin_site=site)),
                name="decisions_queue",
            ),
            path(
                "<int:decision_id>/decide/",
                site.admin_view(
                    lambda r, decision_id: decide_view(r, decision_id, admin_site=site)
                ),
                name="decisions_decide",
            ),
            *super().get_urls(),
        ]

    @admin.display(description=_("decision"), ordering="title")
    def business_summary(self, obj: Decision) -> str:
        summary = decision_summary(decision=obj)
        if not summary or summary == obj.title:
            return format_html("<strong>{}</strong>", obj.title)
        return format_html(
            "<strong>{}</strong><br><small class='decision-summary'>{}</small>", obj.title, summary
        )

    @admin.display(description=_("due"), ordering="due_at")
    def due_in_words(self, obj: Decision) -> str:
        return due_words(obj)

    @admin.display(description=_("mail to approvers"))
    def delivery(self, obj: Decision) -> str:
        if obj.undelivered_reason:
            return format_html(
                '<strong class="decision-undelivered" style="color:#ba2121">{}</strong>',
                obj.undelivered_reason,
            )
        sent = obj.mails.filter(sent_at__isnull=False).values("recipient").distinct().count()
        return (
            ngettext("mailed to %(count)d approver", "mailed to %(count)d approvers", sent)
            % {"count": sent}
            if sent
            else "—"
        )

    @admin.display(description=_("options"))
    def option_list(self, obj: Decision) -> str:
        recommended = f" ({gettext('recommended')})"
        return format_html(
            "<ul>{}</ul>",
            format_html_join(
                "",
                "<li><strong>{}</strong>{} — {}</li>",
                (
                    (o.label, recommended if o.recommended else "", o.impact)
                    for o in obj.options.all()
                ),
            ),
        )

    @admin.display(description=_("audit trail"))
    def audit_trail(self, obj: Decision) -> str:
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
            (
                (
                    timezone.localtime(e.created_at).strftime("%Y-%m-%d %H:%M:%S"),
                    e.actor.get_username() if e.actor is not None else gettext("system"),
                    e.action,
                    e.data,
                )
                for e in decision_audit_trail(obj)
            ),
        )
        return format_html(
            "<table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>"
            "</thead><tbody>{}</tbody></table>",
            gettext("when"),
            gettext("who"),
            gettext("what"),
            gettext("data"),
            rows,
        )


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "action", "who", "subject_repr", "uuid")
    # A date filter, not a date hierarchy: the hierarchy's year/month links are a
    # DISTINCT over every row's date (729 ms at 110,000 events); the filter's ranges
    # are a WHERE on the indexed column.
    list_filter = (
        ("created_at", admin.DateFieldListFilter),
        "action",
        ("actor", admin.RelatedOnlyFieldListFilter),
        "subject_type",
    )
    search_fields = ("action", "subject_repr", "subject_id", "actor__username", "uuid")
    list_select_related = ("actor",)
    readonly_fields = [f.name for f in AuditEvent._meta.fields]

    @admin.display(description=_("actor"), ordering="actor__username")
    def who(self, obj: AuditEvent) -> str:
        return obj.actor.get_username() if obj.actor is not None else gettext("system")


def budget_bar(budget: Budget) -> str:
    # Both annotated together by BudgetAdmin.get_queryset (hasattr tells the type checker).
    if hasattr(budget, "period_spent") and hasattr(budget, "period_now"):
        status = budget_status(
            budget=budget, now=budget.period_now, spent=budget.period_spent or Decimal("0")
        )
    else:
        status = budget_status(budget=budget)
    used = min(status.used_fraction, 1.0)
    colour = (
        "#ba2121"
        if status.over_limit
        else ("#e5a50a" if status.forecast > status.limit else "#417690")
    )
    amounts = {
        "spent": status.spent,
        "limit": status.limit,
        "currency": status.currency,
        "forecast": status.forecast,
    }
    return format_html(
        '<div class="budget-bar" title="{}" '
        'style="width:14em;background:#eee;border-radius:3px">'
        '<div style="width:{}%;background:{};height:0.9em;border-radius:3px"></div></div>'
        "<small>{}</small>",
        gettext("%(spent)s of %(limit)s %(currency)s; forecast %(forecast)s") % amounts,
        f"{used * 100:.1f}",
        colour,
        gettext("%(spent)s / %(limit)s %(currency)s (%(percent)s%%), forecast %(forecast)s")
        % {**amounts, "percent": f"{status.used_fraction * 100:.0f}"},
    )


class BudgetSpendInline(NoAddDeleteAdminMixin, admin.TabularInline):
    model = BudgetSpend
    extra = 0
    fields = ("spent_at", "amount", "source", "reference")
    readonly_fields = fields
    ordering = ("-spent_at",)
    max_num = 0
    can_delete = False


@admin.register(Budget)
class BudgetAdmin(NoDeleteAdminMixin, admin.ModelAdmin):
    # A budget with a ledger is deactivated, never deleted.
    list_display = ("name", "scope_label", "period", "spend", "active")
    list_filter = ("period", "currency", "active")
    search_fields = ("name",)
    fields = ("name", "period", "limit", "currency", "active", "spend")
    readonly_fields = ("spend",)
    inlines = [BudgetSpendInline]
    list_select_related = ("scope_type",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Budget]:
        # Each row's spend this period, summed in the list's own query (a sum per row
        # made two queries per budget): the spends inside the period of that row's
        # budget, with the instant the periods were computed for, so the bar uses it.
        now = timezone.now()
        in_period = Q()
        for period in Period.values:
            start, end = period_bounds(period, now)
            in_period |= Q(period=period, spends__spent_at__gte=start, spends__spent_at__lt=end)
        return (
            super()
            .get_queryset(request)
            .annotate(period_spent=Sum("spends__amount", filter=in_period), period_now=Value(now))
        )

    @admin.display(description=_("spend this period"))
    def spend(self, obj: Budget) -> str:
        return budget_bar(obj) if obj.pk else "—"

    def save_model(self, request: HttpRequest, obj: Budget, form, change: bool) -> None:
        data = {
            name: form.cleaned_data[name] for name in form.changed_data if name in form.cleaned_data
        }
        if change:
            budget_update(budget_id=obj.pk, actor=request.user, **data)
        else:
            created = budget_create(
                name=obj.name,
                limit=obj.limit,
                period=obj.period,
                currency=obj.currency,
                actor=request.user,
            )
            if not obj.active:  # budget_create makes active budgets; honour the box
                created = budget_update(budget_id=created.pk, actor=request.user, active=False)
            obj.pk = created.pk

    def save_related(self, request, form, formsets, change) -> None:
        # Spends are read-only here (recorded by budget_spend_record), so nothing of the
        # inline is saved. The admin's change message still reads what each formset
        # saved (``new_objects`` and friends are set only by ``formset.save()``), so say
        # "nothing" explicitly; leaving them unset made every add and edit a 500.
        for formset in formsets:
            formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []


@admin.register(PolicySettings)
class PolicySettingsAdmin(NoAddDeleteAdminMixin, admin.ModelAdmin):
    """One row, created by a migration: edited, never added or deleted."""

    fields = (*EDITABLE, "updated_at", "updated_by")
    readonly_fields = ("updated_at", "updated_by")

    def changelist_view(self, request: HttpRequest, extra_context=None):
        row = policy_settings_get()
        return HttpResponseRedirect(reverse("admin:decisions_policysettings_change", args=[row.pk]))

    def save_model(self, request: HttpRequest, obj: PolicySettings, form, change: bool) -> None:
        try:
            policy_settings_update(
                actor=request.user, **{name: form.cleaned_data[name] for name in form.changed_data}
            )
        except (PermissionDenied, ValidationError) as exc:
            self.message_user(
                request, gettext("Not saved: %(error)s") % {"error": exc}, messages.ERROR
            )
