"""The studio's charts on the home page: ideas and average scores per day, and tokens
spent per day against the daily budget (server-side SVG, ``bizagent.svg``).

Each chart comes with the rows it draws, which the page shows again as a table in a
``<details>`` (the text fallback): the figures a person reads are the chart's figures.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils.translation import gettext as _

from bizagent.svg import Series, bar_chart
from goals.selectors_charts import IdeasDay, TokensDay, ideas_by_day, tokens_by_day
from ideas.models import SCORE_MAX, Theme


@dataclass(frozen=True)
class StudioCharts:
    ideas_svg: str
    ideas: list[IdeasDay]
    tokens_svg: str
    tokens: list[TokensDay]


def _day_label(day: dt.date) -> str:
    return day.strftime("%m-%d")


def studio_charts(*, theme: Theme, today: dt.date | None = None) -> StudioCharts:
    """Both studio charts for ``theme`` over the last two weeks (three queries)."""
    ideas = ideas_by_day(theme=theme, today=today)
    tokens = tokens_by_day(theme=theme, today=today)
    ideas_svg = bar_chart(
        labels=[_day_label(row.day) for row in ideas],
        bars=[row.created for row in ideas],
        label=_("Ideas created per day (bars) and their average scores (lines), last 14 days"),
        css_class="studio-chart studio-ideas-chart",
        lines=[
            Series(_("Brand fit"), [row.brand_fit for row in ideas], "avg-brand-fit"),
            Series(_("Novelty"), [row.novelty for row in ideas], "avg-novelty"),
            Series(_("Feasibility"), [row.feasibility for row in ideas], "avg-feasibility"),
        ],
        line_top=SCORE_MAX,
    )
    tokens_svg = bar_chart(
        labels=[_day_label(row.day) for row in tokens],
        bars=[row.tokens for row in tokens],
        label=_("Tokens spent per day (bars) against the daily budget (line), last 14 days"),
        css_class="studio-chart studio-tokens-chart",
        lines=[Series(_("Daily budget"), [row.budget for row in tokens], "budget")],
        lines_share_bar_scale=True,
    )
    return StudioCharts(ideas_svg=ideas_svg, ideas=ideas, tokens_svg=tokens_svg, tokens=tokens)
