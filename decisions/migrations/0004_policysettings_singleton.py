"""The policy thresholds row exists from the start, so reading it never has to create it.

Its values are the model's field defaults (the design's thresholds).
"""

from django.db import migrations


def policy_settings_create(apps, schema_editor):
    PolicySettings = apps.get_model("decisions", "PolicySettings")
    PolicySettings.objects.get_or_create(pk=1)


class Migration(migrations.Migration):
    dependencies = [
        ("decisions", "0003_decision_delivery"),
    ]

    operations = [
        migrations.RunPython(policy_settings_create, migrations.RunPython.noop),
    ]
