"""A real ``qcluster`` for the durability tests, with the test-only blocks registered.

django-q2 forks its workers from this process, so the blocks registered here (and the
short lease grace) are what the workers see. Run from the project root with the test
database in ``DATABASE_URL`` (``tests.processes.child_env_on_test_database``).
"""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bizagent.settings_test")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402

import tests.workflows.engine_blocks  # noqa: E402, F401

settings.WORKFLOWS_LEASE_GRACE_SECONDS = float(os.environ.get("WORKFLOWS_LEASE_GRACE", "30"))
call_command("qcluster")
