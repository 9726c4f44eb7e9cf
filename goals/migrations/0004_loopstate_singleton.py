"""The loop's state row exists from the start, so reading it never has to create it."""

from django.db import migrations


def create_singleton(apps, schema_editor):
    LoopState = apps.get_model("goals", "LoopState")
    LoopState.objects.get_or_create(pk=1)


class Migration(migrations.Migration):
    dependencies = [
        ("goals", "0003_iteration_call_tokens"),
    ]

    operations = [
        migrations.RunPython(create_singleton, migrations.RunPython.noop),
    ]
