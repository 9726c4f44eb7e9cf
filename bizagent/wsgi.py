"""The WSGI application (gunicorn). A bad setting stops the worker with one line naming it."""

import os

from django.core.wsgi import get_wsgi_application

from bizagent.env import run_or_exit_on_configuration_error

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bizagent.settings")
application = run_or_exit_on_configuration_error(get_wsgi_application)
