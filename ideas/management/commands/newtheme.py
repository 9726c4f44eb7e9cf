"""``manage.py newtheme --ip-profile FILE --config FILE``: validate and switch the theme.

The loop's run state belongs to ``goals``, and ``ideas`` must not import ``goals``
(dependencies point goals → ideas). A management command is glue, not domain code, so
this one looks the loop controls up lazily: when the ``goals`` app is installed and
offers ``goals.services.loop_pause`` / ``loop_resume``, the switch happens with the loop
paused, and the loop is resumed only if it was running before. The services stay
free of the dependency; without ``goals`` the command simply switches the theme.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError, CommandParser

from ideas.services import ThemeFilesInvalid, ThemeTransitionError, theme_activate_from_files
from ideas.theme_files import theme_files_validate

PAUSE_REASON = "newtheme: switching theme"


@dataclass(frozen=True)
class LoopControls:
    state_get: Callable[[], Any]
    pause: Callable[..., Any]
    resume: Callable[..., Any]


def _loop_controls() -> LoopControls | None:
    """``goals``' loop controls when that app is installed, else None."""
    if not apps.is_installed("goals"):
        return None
    module = importlib.import_module("goals.services")
    names = ("loop_state_get", "loop_pause", "loop_resume")
    if not all(hasattr(module, name) for name in names):
        return None
    return LoopControls(*(getattr(module, name) for name in names))


def _is_running(state: Any) -> bool:
    """Whether the loop's state object says it was working (so we should resume it)."""
    return str(getattr(state, "state", state)) in {"running", "backing_off"}


class Command(BaseCommand):
    help = "Validate an IP profile and a project config, then make them the active theme."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--ip-profile", required=True, help="IP profile JSON file")
        parser.add_argument("--config", required=True, help="project config JSON file")
        parser.add_argument(
            "--check", action="store_true", help="validate the files only; change nothing"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        ip_profile_path, config_path = options["ip_profile"], options["config"]
        # Validate before touching the loop: a typo in a file must not pause anything.
        try:
            theme_files_validate(ip_profile_path=ip_profile_path, config_path=config_path)
        except ThemeFilesInvalid as exc:
            raise CommandError(
                "invalid theme files, nothing changed:\n" + "\n".join(f"  {e}" for e in exc.errors)
            ) from exc
        if options["check"]:
            self.stdout.write("both files are valid")
            return

        controls = _loop_controls()
        was_running = controls is not None and _is_running(controls.state_get())
        if was_running:
            controls.pause(reason=PAUSE_REASON)
            self.stdout.write("loop paused")
        try:
            theme = theme_activate_from_files(
                ip_profile_path=ip_profile_path, config_path=config_path
            )
        except (ThemeFilesInvalid, ThemeTransitionError) as exc:
            raise CommandError(f"theme not switched, nothing changed: {exc}") from exc
        finally:
            if was_running:
                controls.resume()
                self.stdout.write("loop resumed")
        self.stdout.write(
            self.style.SUCCESS(
                f"active theme: {theme.name} (#{theme.pk}), IP profile {theme.ip_profile}"
            )
        )
