"""Count the portfolio of every existing theme into its ``PortfolioCounters`` row.

The recount of ``ideas.selectors.portfolio_counts_scan``, spelled on the historical
models so that this migration keeps meaning what it meant when it was written.
"""

from django.db import migrations
from django.db.models import Count, F, FloatField, IntegerField, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

SCORES = ("brand_fit", "novelty", "feasibility")
STATUSES = ("candidate", "active", "reviewed", "archived", "refused")
VISIBLE = ("candidate", "active", "reviewed")


def _effective(name):
    return Coalesce(F(f"human_{name}"), F(name), output_field=FloatField())


def counters_fill(apps, schema_editor):
    Theme = apps.get_model("ideas", "Theme")
    Idea = apps.get_model("ideas", "Idea")
    IdeaRefusal = apps.get_model("ideas", "IdeaRefusal")
    Tag = apps.get_model("ideas", "Tag")
    PortfolioCounters = apps.get_model("ideas", "PortfolioCounters")
    visible = Q(status__in=VISIBLE)
    aggregates = {status: Count("id", filter=Q(status=status)) for status in STATUSES}
    aggregates["visible_human_corrected"] = Count(
        "id", filter=visible & Q(*(Q(**{f"human_{f}__isnull": False}) for f in SCORES), _connector=Q.OR)
    )
    aggregates["visible_reviewed_at"] = Count("id", filter=visible & Q(reviewed_at__isnull=False))
    for name in SCORES:
        aggregates[f"{name}_n"] = Count(_effective(name), filter=visible)
        aggregates[f"{name}_sum"] = Sum(_effective(name), filter=visible)
        aggregates[f"{name}_sq"] = Sum(_effective(name) * _effective(name), filter=visible)
    through = Idea.tags.through
    carrying = (
        through.objects.filter(tag_id=OuterRef("pk"), idea__status__in=VISIBLE)
        .values("tag_id")
        .annotate(n=Count("idea_id"))
        .values("n")
    )
    for theme_id in Theme.objects.values_list("pk", flat=True):
        counts = Idea.objects.filter(theme_id=theme_id).aggregate(**aggregates)
        for name in SCORES:
            counts[f"{name}_sum"] = counts[f"{name}_sum"] or 0.0
            counts[f"{name}_sq"] = counts[f"{name}_sq"] or 0.0
        counts["refusals"] = IdeaRefusal.objects.filter(theme_id=theme_id).count()
        PortfolioCounters.objects.update_or_create(
            theme_id=theme_id, defaults={**counts, "rebuilt_at": timezone.now()}
        )
        Tag.objects.filter(theme_id=theme_id).update(
            visible_ideas=Coalesce(Subquery(carrying), Value(0), output_field=IntegerField())
        )


class Migration(migrations.Migration):
    dependencies = [
        ("ideas", "0004_portfolio_counters"),
    ]

    operations = [
        migrations.RunPython(counters_fill, migrations.RunPython.noop),
    ]
