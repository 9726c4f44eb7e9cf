"""Leases with an expiry for the mail and Sheets outboxes (``bizagent.leases``).

A mail row had no claim at all (two deliveries of a task could both send it); a Sheets
row's claim expired only through ``next_attempt_at``. Existing rows start unclaimed or,
for a claimed Sheets row, with a lapsed lease: the sync that held it is long gone.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("decisions", "0004_policysettings_singleton"),
    ]

    operations = [
        migrations.AddField(
            model_name="decisionmail",
            name="lease_owner",
            field=models.CharField(blank=True, default="", max_length=100),
        ),
        migrations.AddField(
            model_name="decisionmail",
            name="lease_expires_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="sheetrow",
            name="claim_expires_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
