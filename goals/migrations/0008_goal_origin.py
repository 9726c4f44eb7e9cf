"""GoalOrigin: chat messages delivered to the goal webhook, once each.

Follows 0007 (Whop webhook deliveries), which landed on main while this was written.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("goals", "0007_webhook_delivery"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="GoalOrigin",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "source",
                    models.CharField(
                        help_text="The chat tool: slack, telegram, ...", max_length=32
                    ),
                ),
                (
                    "message_id",
                    models.CharField(help_text="The tool's id of the message.", max_length=200),
                ),
                (
                    "status_code",
                    models.PositiveSmallIntegerField(help_text="The HTTP status first answered."),
                ),
                ("answer", models.JSONField(default=dict, help_text="The body first answered.")),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "goal",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="origins",
                        to="goals.goal",
                    ),
                ),
                (
                    "received_by",
                    models.ForeignKey(
                        blank=True,
                        help_text="Whose API token delivered it.",
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("source", "message_id"), name="goals_goalorigin_once_per_message"
                    )
                ],
            },
        ),
    ]
