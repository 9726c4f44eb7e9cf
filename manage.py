#!/usr/bin/env python
"""Django's command-line utility for bizagent."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bizagent.settings")
    from django.conf import settings
    from django.core.management import execute_from_command_line

    from bizagent.env import run_or_exit_on_configuration_error

    # Load the settings first: Django would otherwise swallow the error here and show a
    # traceback later. A bad variable is one line on stderr and exit status 2.
    run_or_exit_on_configuration_error(lambda: settings.INSTALLED_APPS)
    run_or_exit_on_configuration_error(lambda: execute_from_command_line(sys.argv))


if __name__ == "__main__":
    main()
