"""``{% decision_presentation decision as shown %}``: a decision in business terms.

Takes the Decision or the summary dict the mail and link pages carry (its ``id``), so
every place a decision is shown renders the same ``decisions.presentation`` wording.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django import template

from decisions.models import Decision
from decisions.presentation import Presentation, decision_present

register = template.Library()


@register.simple_tag
def decision_presentation(decision: Decision | Mapping[str, Any]) -> Presentation:
    if not isinstance(decision, Decision):
        decision = Decision.objects.get(pk=decision["id"])
    return decision_present(decision=decision)
