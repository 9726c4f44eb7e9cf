"""``manage.py runloop``: the foreground loop and the control subcommands."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from django_q.models import Schedule

from goals.models import Iteration, LoopState
from goals.services import loop_backoff_enter, loop_start
from goals.services.loop import LOOP_SCHEDULE_NAME, loop_state_get
from ideas.services import snapshot_create

pytestmark = pytest.mark.django_db(transaction=True)


def runloop(*args: str) -> str:
    out = io.StringIO()
    call_command("runloop", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_once_runs_one_iteration_and_prints_a_status_line(theme, studio):
    out = runloop("--once")
    assert Iteration.objects.count() == 1
    assert "#1 plan · planner/" in out
    assert "tok" in out
    assert "ran 1 iteration(s), 0 failed" in out


def test_iterations_runs_that_many(theme, studio):
    out = runloop("--iterations", "5")
    assert Iteration.objects.count() == 5
    assert "ran 5 iteration(s)" in out
    assert loop_state_get().current_task_id is None


def test_it_refuses_to_run_without_a_theme(db, studio):
    with pytest.raises(CommandError, match="newtheme"):
        runloop("--once")


def test_start_and_stop_control_the_schedule(theme):
    out = runloop("start")
    assert "running" in out
    assert Schedule.objects.filter(name=LOOP_SCHEDULE_NAME).count() == 1
    runloop("start")
    assert Schedule.objects.filter(name=LOOP_SCHEDULE_NAME).count() == 1
    out = runloop("stop")
    assert "stopped; state saved" in out
    assert not Schedule.objects.filter(name=LOOP_SCHEDULE_NAME).exists()
    assert loop_state_get().state == LoopState.State.STOPPED


def test_pause_and_resume(theme):
    runloop("start")
    assert "paused" in runloop("pause", "--reason", "reviewing")
    assert loop_state_get().reason == "reviewing"
    assert "running" in runloop("resume")


def test_resume_of_a_stopped_loop_points_at_start(theme):
    assert "runloop start" in runloop("resume")


def test_status_shows_state_queue_and_errors(theme):
    loop_start()
    loop_backoff_enter(error_class="unreachable", detail="connection refused", now=timezone.now())
    out = runloop("status")
    assert "state: Backing off" in out
    assert "connection refused" in out
    assert "backing off until" in out
    assert f"theme: {theme.name}" in out
    assert "queue:" in out
    assert "tokens today: 0 of 1,500,000" in out


def test_review_prints_the_latest_snapshot(theme):
    snapshot_create(theme=theme, iteration_count=10)
    latest = snapshot_create(theme=theme, iteration_count=20)
    assert runloop("review").strip() == latest.markdown.strip()


def test_review_without_a_snapshot_says_so(theme):
    with pytest.raises(CommandError, match="no snapshot yet"):
        runloop("review")


def test_once_while_paused_reports_and_exits(theme, studio):
    runloop("start")
    runloop("pause")
    with pytest.raises(SystemExit) as exc:
        runloop("--once")
    assert exc.value.code == 2
    assert not Iteration.objects.exists()


def test_actions_and_iteration_flags_do_not_mix(theme):
    with pytest.raises(CommandError):
        runloop("status", "--once")
    with pytest.raises(CommandError):
        runloop("--iterations", "0")


def test_the_foreground_loop_waits_out_a_backoff(theme, studio, monkeypatch):
    LoopState.objects.update_or_create(
        pk=1, defaults={"backoff_until": timezone.now() + dt.timedelta(seconds=2), "reason": "down"}
    )
    out = runloop("--iterations", "1")
    assert "backing_off: down" in out
    assert Iteration.objects.count() == 1


def _manage(*argv: str) -> int:
    """Run like `python manage.py …` does: a CommandError becomes an exit status."""
    from django.core.management import ManagementUtility

    with pytest.raises(SystemExit) as exc:
        ManagementUtility(["manage.py", *argv]).execute()
        raise SystemExit(0)
    return exc.value.code


def _nothing_written() -> None:
    from decisions.models import AuditEvent

    assert loop_state_get().state == LoopState.State.STOPPED
    assert not AuditEvent.objects.filter(action__startswith="goals.loop").exists()
    assert not Schedule.objects.filter(name=LOOP_SCHEDULE_NAME).exists()


def test_start_without_a_theme_refuses_with_the_newtheme_hint(db, capsys):
    assert _manage("runloop", "start") != 0
    err = capsys.readouterr().err.strip()
    assert err == (
        "CommandError: no theme loaded: load one with "
        "`python manage.py newtheme --ip-profile FILE --config FILE`"
    )
    _nothing_written()


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("BIZAGENT_GOALS_TICK_MINUTES", "soon"),  # not a number
        ("BIZAGENT_GOALS_TICK_MINUTES", "-1"),  # negative
        ("BIZAGENT_GOALS_BACKOFF_BASE_SECONDS", "nan"),  # not finite
        ("BIZAGENT_GOALS_TICK_MINUTES", "1000000000000000000000000000000"),  # huge
        ("BIZAGENT_LOOP_CONCURRENCY", "0"),
    ],
)
def test_start_with_a_bad_setting_names_it_and_writes_nothing(
    theme, capsys, monkeypatch, settings, variable, value
):
    del settings.GOALS_BACKOFF_BASE_SECONDS  # read from the environment, as in production
    monkeypatch.setenv(variable, value)
    assert _manage("runloop", "start") != 0
    err = capsys.readouterr().err.strip()
    # The system check stops the command before it runs: one line names the variable.
    naming = [line for line in err.splitlines() if variable in line]
    assert len(naming) == 1 and f"(goals.E001) {variable} must " in naming[0]
    assert "Traceback" not in err
    _nothing_written()


def test_status_says_the_loop_waits_for_a_theme_when_it_went_away(theme):
    runloop("start")
    theme.status = "archived"
    theme.save()
    out = runloop("status")
    assert "state: Running — waiting for a theme" in out


class _Clock:
    """``time`` for the command's sleep: every sleep asked is recorded and moves the clock."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.mark.parametrize(
    ("wait", "slept"),
    [
        (0.3, 0.3),  # a duty cycle's rest: waited out exactly, not rounded up to a poll
        (2.5, 2.5),  # a backoff: in one-second sleeps, so Ctrl-C stays prompt
        (0.0, 1.0),  # paused, no wait given: poll once a second
        (600.0, 60.0),  # at most a minute before looking again
    ],
)
def test_the_foreground_loop_sleeps_what_the_report_asked(monkeypatch, wait, slept):
    from goals.management.commands import runloop as command

    clock = _Clock()
    monkeypatch.setattr(command, "time", clock)
    command.Command().sleep(wait, {"requested": False})
    assert sum(clock.slept) == pytest.approx(slept)
    assert max(clock.slept) <= command.POLL_SECONDS


def test_the_foreground_sleep_ends_early_when_a_stop_is_requested(monkeypatch):
    from goals.management.commands import runloop as command

    clock = _Clock()
    monkeypatch.setattr(command, "time", clock)
    command.Command().sleep(30.0, {"requested": True})
    assert clock.slept == []
