"""Words and amounts a person reads about goals, shared by the admin, the home page and
the lists (a module of its own, so the pages import it instead of each other)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from goals.forecast import Trend
from goals.models import Goal
from goals.services.reports import amount_text

#: Statuses shown among the goals in progress (admin index, home page).
INDEX_STATUSES = (Goal.Status.ACTIVE, Goal.Status.PLANNED, Goal.Status.AWAITING_APPROVAL)

#: A forecast's trend in a few words, for lists and the home page.
TREND_WORDS = {
    Trend.AHEAD: _("ahead"),
    Trend.ON_TRACK: _("on track"),
    Trend.BEHIND: _("behind"),
    Trend.NOT_ENOUGH_DATA: _("not enough data yet"),
}


def goal_amount_text(goal: Goal, amount: int) -> str:
    """An amount in the goal's unit as a person reads it: "¥2,000,000", "30 people"."""
    return amount_text(amount, currency=goal.currency, metric=goal.metric)


#: A studio button whose change waited out the whole bounded wait for the database's
#: write lock (``LoopControlBusy``): nothing was changed.
LOOP_BUSY_NOTICE = _(
    "The studio was not changed: the database stayed busy with other writers for two "
    "minutes. Try again."
)
