"""Seed one CatalogueItem per shipped catalogue entry (goals/catalogue/*.json).

The three entries' data is frozen here, not read through ``goals.catalogue``: a
migration must give the same rows however the app code changes later. The values are
the JSON files' as of this migration (tests compare them). An item that already exists
(by key) is left alone, so a person's edits survive a re-run.
"""

from decimal import Decimal

from django.db import migrations

ENTRIES = [
    {
        "key": "briefing_post",
        "title": "Briefing post via http",
        "workflow": "briefing-post",
        "description": "Drafts a short industry briefing with the model and publishes it through the http block to the blog or newsletter API, with a call to start a trial.",
        "metric": "trials",
        "unit": "post published",
        "yield_per_unit": "2",
        "unit_cost": "0",
        "currency": "JPY",
        "volume_param": "posts_per_day",
        "max_per_day": 1,
        "yield_source": "A guess, not a benchmark: sign-ups per post depend entirely on the audience, and no public figure transfers. 2 trials a post is a placeholder for a small existing audience; measure the first week's posts and replace it. Unit cost 0: the model runs locally and the publishing API is already paid for. One post a day keeps quality up and avoids looking like spam.",
    },
    {
        "key": "cold_outreach",
        "title": "Cold outreach (capped per day)",
        "workflow": "cold-outreach",
        "description": "Writes and sends one personalised cold email per prospect from a prospect list, at most max_per_day a day so a warmed-up mailbox keeps its sender reputation.",
        "metric": "customers",
        "unit": "cold email sent",
        "yield_per_unit": "0.002",
        "unit_cost": "3",
        "currency": "JPY",
        "volume_param": "sends_per_day",
        "max_per_day": 50,
        "yield_source": "Not measured here. Cold email studies (Woodpecker, Belkins, Backlinko's 12M-email analysis) report reply rates of about 1-8%; 0.002 customers per email assumes about 2% replies and about 1 in 10 replies buying. Unit cost: sending plus prospect data and model time, an estimate of 3 JPY. The cap of 50 follows common deliverability advice of 30-50 cold sends a day per warmed mailbox; raise it only with more mailboxes.",
    },
    {
        "key": "trial_onboarding",
        "title": "Trial onboarding email sequence",
        "workflow": "trial-onboarding",
        "description": "Enrols each new trial user in a short onboarding email sequence (welcome, first result, the feature that sells, trial ending) that nudges them to pay before the trial ends.",
        "metric": "customers",
        "unit": "trial enrolled",
        "yield_per_unit": "0.15",
        "unit_cost": "1",
        "currency": "JPY",
        "volume_param": "trials_per_day",
        "max_per_day": 200,
        "yield_source": "Not measured here. Published SaaS benchmarks put trial-to-paid conversion for no-card opt-in trials at roughly 15-25% (ChartMogul, Totango and First Page Sage surveys); 0.15 takes the low end and credits the whole conversion to the sequence, which overstates it. Unit cost: about five transactional emails (cents per thousand at Amazon SES or SendGrid) plus local model time, rounded up to 1 JPY. The cap stands for the day's new trials: set it to your real sign-up rate. Replace all three with your own figures after the first week.",
    },
]


def catalogue_seed(apps, schema_editor):
    CatalogueItem = apps.get_model("goals", "CatalogueItem")
    for entry in ENTRIES:
        values = {
            **entry,
            "yield_per_unit": Decimal(entry["yield_per_unit"]),
            "unit_cost": Decimal(entry["unit_cost"]),
        }
        key = values.pop("key")
        CatalogueItem.objects.get_or_create(key=key, defaults=values)


class Migration(migrations.Migration):
    dependencies = [
        ("goals", "0009_execution"),
    ]

    operations = [
        migrations.RunPython(catalogue_seed, migrations.RunPython.noop),
    ]
