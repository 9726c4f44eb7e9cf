"""The admin index's "Blocked work: needs you" section, rendered with the page itself so
a person sees it first thing, with or without JavaScript."""

from __future__ import annotations

from typing import Any

from django import template

from goals.admin import blocked_work_context

register = template.Library()


@register.inclusion_tag("goals/blocked_work_partial.html", takes_context=True)
def blocked_work(context: dict[str, Any]) -> dict[str, Any]:
    return blocked_work_context(context["request"])
