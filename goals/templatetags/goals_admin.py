"""The admin index's "Blocked work: needs you" section, rendered with the page itself so
a person sees it first thing, with or without JavaScript."""

from __future__ import annotations

from typing import Any

from django import template

from goals.admin import blocked_work_context
from goals.admin_goals import active_goals_context

register = template.Library()


@register.inclusion_tag("goals/blocked_work_partial.html", takes_context=True)
def blocked_work(context: dict[str, Any]) -> dict[str, Any]:
    return blocked_work_context(context["request"])


@register.inclusion_tag("goals/active_goals.html", takes_context=True)
def active_goals(context: dict[str, Any]) -> dict[str, Any]:
    """The "New goal" link and the active goals' progress, above the decision queue."""
    return active_goals_context(context["request"])
