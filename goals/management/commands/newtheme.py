"""``manage.py newtheme --ip-profile FILE --config FILE``: validate and switch the theme.

The theme belongs to ``ideas``; the loop that works on it belongs to ``goals``, which
depends on ``ideas`` (never the other way), so the command lives here. The files are
validated before the loop is touched; a running loop is paused for the switch and resumed
afterwards, even when the switch fails; a paused or stopped loop is left as it was.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from bizagent.command_language import staff_language
from ideas.services import (
    ThemeFilesInvalid,
    ThemeTransitionError,
    theme_activate_from_files,
    theme_switching,
)
from ideas.theme_files import theme_files_validate


class Command(BaseCommand):
    help = "Validate an IP profile and a project config, then make them the active theme."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--ip-profile", required=True, help="IP profile JSON file")
        parser.add_argument("--config", required=True, help="project config JSON file")
        parser.add_argument(
            "--check", action="store_true", help="validate the files only; change nothing"
        )

    @staff_language
    def handle(self, *args: Any, **options: Any) -> None:
        ip_profile_path, config_path = options["ip_profile"], options["config"]
        # Validate before touching the loop: a typo in a file must not pause anything.
        try:
            theme_files_validate(ip_profile_path=ip_profile_path, config_path=config_path)
        except ThemeFilesInvalid as exc:
            raise CommandError(
                _("invalid theme files, nothing changed:")
                + "\n"
                + "\n".join(f"  {e}" for e in exc.errors)
            ) from exc
        if options["check"]:
            self.stdout.write(_("both files are valid"))
            return

        # theme_switching pauses a working loop around the switch and resumes it after,
        # even when the switch fails (goals registers that guard at start-up).
        with theme_switching() as guards:
            paused = any(guards)
            if paused:
                self.stdout.write(_("loop paused"))
            try:
                theme = theme_activate_from_files(
                    ip_profile_path=ip_profile_path, config_path=config_path
                )
            except (ThemeFilesInvalid, ThemeTransitionError) as exc:
                raise CommandError(
                    _("theme not switched, nothing changed: %(error)s") % {"error": exc}
                ) from exc
        if paused:
            self.stdout.write(_("loop resumed"))
        self.stdout.write(
            self.style.SUCCESS(
                _("active theme: %(name)s (#%(id)s), IP profile %(profile)s")
                % {"name": theme.name, "id": theme.pk, "profile": theme.ip_profile}
            )
        )
