"""Run the agent loop in the foreground, or control the scheduled (django-q2) loop.

    manage.py runloop                  run until Ctrl-C, with a live status line
    manage.py runloop --once           one iteration
    manage.py runloop --iterations 20  twenty iterations
    manage.py runloop start|stop|pause|resume|status|review

SIGINT and SIGTERM let the current iteration finish and record itself, then the loop
saves its state and exits; nothing is cut off mid-write.
"""

from __future__ import annotations

import signal
import sys
import time
from collections.abc import Callable
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from bizagent.command_language import staff_language
from goals.models import LoopState
from goals.selectors import loop_status, status_lines
from goals.services import (
    IterationReport,
    LoopControlBusy,
    LoopStartRefused,
    iteration_run_in_slot,
    loop_current_set,
    loop_pause,
    loop_resume,
    loop_start,
    loop_state_get,
    loop_stop,
)
from goals.tasks import worker_name
from ideas.selectors import snapshot_latest

ACTIONS = ("start", "stop", "pause", "resume", "status", "review")
#: Longest single sleep while waiting (paused, backing off), so Ctrl-C is prompt.
POLL_SECONDS = 1.0
#: The foreground loop's last line (marked here: the sentence is longer than a code line).
_FOREGROUND_DONE = gettext_lazy(
    "ran %(done)s iteration(s), %(errors)s failed; loop state saved (%(state)s, %(total)s total)"
)


def _state(state: Any) -> str:
    """The loop's state as a person reads it inside a sentence (its label, lower case)."""
    return str(state.get_state_display()).lower()


class Command(BaseCommand):
    help = "Run the agent loop in the foreground, or control the scheduled loop."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", nargs="?", choices=ACTIONS, help="control the 24/7 loop")
        group = parser.add_mutually_exclusive_group()
        group.add_argument("--once", action="store_true", help="run one iteration and exit")
        group.add_argument("--iterations", type=int, metavar="N", help="run N iterations")
        parser.add_argument("--reason", default="", help="why (for pause and stop)")

    @staff_language
    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action:
            if options["once"] or options["iterations"] is not None:
                raise CommandError(_("--once and --iterations run the foreground loop; no action"))
            getattr(self, f"do_{action}")(options)
            return
        limit = 1 if options["once"] else options["iterations"]
        if limit is not None and limit < 1:
            raise CommandError(_("--iterations must be at least 1"))
        self.run_foreground(limit=limit, once=options["once"])

    # --- control ------------------------------------------------------------------------

    def do_start(self, options: dict[str, Any]) -> None:
        try:
            state = loop_start()
        except (LoopStartRefused, LoopControlBusy, ImproperlyConfigured) as exc:
            # One line naming what is wrong; the service wrote nothing.
            raise CommandError(str(exc)) from None
        self.stdout.write(_("loop %(state)s; scheduled under qcluster") % {"state": _state(state)})

    def do_stop(self, options: dict[str, Any]) -> None:
        reason = options["reason"] or "stopped from the command line"
        state = self.control(lambda: loop_stop(reason=reason))
        self.stdout.write(
            _("loop %(state)s; state saved (%(count)s iterations so far)")
            % {"state": _state(state), "count": state.iterations_total}
        )

    def do_pause(self, options: dict[str, Any]) -> None:
        reason = options["reason"] or "paused from the command line"
        state = self.control(lambda: loop_pause(reason=reason))
        self.stdout.write(_("loop %(state)s") % {"state": _state(state)})

    def do_resume(self, options: dict[str, Any]) -> None:
        state = self.control(lambda: loop_resume())
        if state.state == state.State.STOPPED:
            self.stdout.write(_("loop is stopped; `runloop start` starts it"))
            return
        self.stdout.write(_("loop %(state)s") % {"state": _state(state)})

    def control(self, transition: Callable[[], LoopState]) -> LoopState:
        """Run a control transition; a database that stayed locked past the bounded wait
        is one line saying so (nothing was changed), not a traceback."""
        try:
            return transition()
        except LoopControlBusy as exc:
            raise CommandError(str(exc)) from None

    def do_status(self, options: dict[str, Any]) -> None:
        for line in status_lines(loop_status()):
            self.stdout.write(line)

    def do_review(self, options: dict[str, Any]) -> None:
        snapshot = snapshot_latest()
        if snapshot is None:
            raise CommandError(_("no snapshot yet: the loop writes one every few iterations"))
        self.stdout.write(snapshot.markdown)

    # --- foreground -----------------------------------------------------------------------

    def run_foreground(self, *, limit: int | None, once: bool) -> None:
        stop = {"requested": False}

        def request_stop(signum: int, frame: object) -> None:
            if stop["requested"]:
                raise KeyboardInterrupt
            stop["requested"] = True
            self.stderr.write("\n" + _("stopping after the current iteration (again to abort)"))

        previous = {
            sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)
        }
        worker = worker_name()
        done = 0
        errors = 0
        tty = self.stdout.isatty()
        try:
            while not stop["requested"] and (limit is None or done < limit):
                report = iteration_run_in_slot(worker=worker, scheduled=False)
                if report.status == "no_theme":
                    raise CommandError(report.detail)
                if report.ran:
                    done += 1
                    errors += report.iteration.outcome == "failed"  # type: ignore[union-attr]
                    self.status_line(report, done=done, errors=errors, tty=tty)
                    continue
                self.status_wait(report, tty=tty)
                if once:
                    break
                self.sleep(report.wait_seconds, stop)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            loop_current_set(task=None, role="", worker="")
            if tty:
                self.stdout.write("")
        state = loop_state_get()
        self.stdout.write(
            # One message, so a translation can order the parts as its language does.
            _FOREGROUND_DONE
            % {
                "done": done,
                "errors": errors,
                "state": _state(state),
                "total": state.iterations_total,
            }
        )
        if once and done == 0:
            sys.exit(2)

    def sleep(self, seconds: float, stop: dict[str, bool]) -> None:
        """Wait what the report asked (a duty cycle's rest ends when it ends, not a whole
        poll later: rounding a 0.3 s rest up to 1 s cut the loop's rate by a third), at
        most a minute; poll once a second when no wait was given (paused)."""
        wait = min(seconds, 60.0) if seconds > 0 else POLL_SECONDS
        deadline = time.monotonic() + wait
        while not stop["requested"] and time.monotonic() < deadline:
            time.sleep(min(POLL_SECONDS, max(0.0, deadline - time.monotonic())))

    def write_status(self, text: str, *, tty: bool) -> None:
        if tty:
            width = 120
            self.stdout.write("\r" + text[:width].ljust(width), ending="")
            self.stdout.flush()
        else:
            self.stdout.write(text)

    def status_line(self, report: IterationReport, *, done: int, errors: int, tty: bool) -> None:
        it = report.iteration
        assert it is not None
        result = it.result or {}
        ideas = len(result.get("ideas_created", []))
        task = f"task {it.task_id} {it.task_kind}" if it.task_id else "plan"
        error = f" [{it.error_class}]" if it.error_class else ""
        self.write_status(
            f"#{it.number} {task} · {it.role}/{it.mode} · "
            f"{it.prompt_tokens}+{it.completion_tokens} tok · +{ideas} ideas · "
            f"{it.outcome}{error} · errors {errors} · {it.duration_ms} ms",
            tty=tty,
        )

    def status_wait(self, report: IterationReport, *, tty: bool) -> None:
        wait = (
            _(", next try in %(seconds)ss") % {"seconds": f"{report.wait_seconds:.0f}"}
            if report.wait_seconds
            else ""
        )
        self.write_status(f"{report.status}: {report.detail}{wait}", tty=tty)
