"""manage.py newtheme: validate both files, switch the theme, or change nothing."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from decisions.models import AuditEvent
from goals.management.commands import newtheme
from goals.models import LoopState
from goals.services import loop_pause, loop_start, loop_state_get
from ideas.models import Idea, IdeaChange, IPProfile, Snapshot, Theme
from ideas.services import ThemeTransitionError
from tests.ideas.factories import (
    EXAMPLE_CONFIG,
    EXAMPLE_IP_PROFILE,
    example_config,
    example_profile,
)

pytestmark = pytest.mark.django_db


def _run(ip_profile: Path, config: Path, *extra: str) -> str:
    out = StringIO()
    call_command(
        "newtheme", "--ip-profile", str(ip_profile), "--config", str(config), *extra, stdout=out
    )
    return out.getvalue()


def _db_state() -> list:
    return [
        list(IPProfile.objects.order_by("pk").values()),
        list(Theme.objects.order_by("pk").values()),
        Idea.objects.count(),
        IdeaChange.objects.count(),
        Snapshot.objects.count(),
    ]


def _write(tmp_path: Path, name: str, document) -> Path:
    path = tmp_path / name
    path.write_text(
        document if isinstance(document, str) else json.dumps(document, ensure_ascii=False),
        encoding="utf-8",
    )
    return path


def test_it_activates_the_example_theme():
    output = _run(EXAMPLE_IP_PROFILE, EXAMPLE_CONFIG)
    theme = Theme.objects.get()
    assert theme.status == Theme.Status.ACTIVE
    assert theme.ip_profile.status == IPProfile.Status.ACTIVE
    assert theme.ip_profile.name == "もちうさ (Mochiusa)"
    assert theme.explore_ratio == 0.6
    assert theme.token_cap("ideator") == 8000
    assert "active theme" in output


def test_it_archives_the_previous_theme(tmp_path):
    _run(EXAMPLE_IP_PROFILE, EXAMPLE_CONFIG)
    first = Theme.objects.get()
    config = _write(tmp_path, "config.json", example_config(explore_ratio=0.3))
    _run(EXAMPLE_IP_PROFILE, config)
    first.refresh_from_db()
    assert first.status == Theme.Status.ARCHIVED
    assert first.archived_at is not None
    active = Theme.objects.get(status=Theme.Status.ACTIVE)
    assert active.explore_ratio == 0.3
    # Same brand content: the frozen profile is reused, not copied.
    assert active.ip_profile_id == first.ip_profile_id


def test_reloading_the_same_files_changes_nothing():
    _run(EXAMPLE_IP_PROFILE, EXAMPLE_CONFIG)
    before = _db_state()
    _run(EXAMPLE_IP_PROFILE, EXAMPLE_CONFIG)
    assert _db_state() == before


def test_a_changed_brand_becomes_a_new_profile_version(tmp_path):
    _run(EXAMPLE_IP_PROFILE, EXAMPLE_CONFIG)
    profile = example_profile()
    profile["brand_promise"] = "A softer promise."
    _run(_write(tmp_path, "ip.json", profile), EXAMPLE_CONFIG)
    versions = list(IPProfile.objects.order_by("version").values_list("version", "brand_promise"))
    assert versions[0][0] == 1 and versions[1] == (2, "A softer promise.")


def _broken_config(mutate) -> dict:
    config = example_config()
    mutate(config)
    return config


INVALID_CASES = {
    "missing field": (
        "config",
        _broken_config(lambda c: c["iteration_policy"].pop("stagnation_window")),
        "config.iteration_policy.stagnation_window: is required",
    ),
    "wrong type": (
        "config",
        _broken_config(lambda c: c["iteration_policy"].update(snapshot_every="ten")),
        "config.iteration_policy.snapshot_every: 'ten' is not of type 'integer'",
    ),
    "out-of-range ratio": (
        "config",
        _broken_config(lambda c: c["iteration_policy"].update(explore_ratio=1.5)),
        "config.iteration_policy.explore_ratio: 1.5 is greater than the maximum of 1",
    ),
    "unknown field": (
        "config",
        _broken_config(lambda c: c["constraints"].update(budgett=1)),
        "config.constraints.budgett: is not an allowed field",
    ),
    "nested array item": (
        "ip",
        {**example_profile(), "taboos": [{"topic": "x", "keywords": []}]},
        "ip_profile.taboos[0].keywords: [] should be non-empty",
    ),
    "bad json": ("config", '{"project_name": "x",}', "config: not valid JSON (line 1, column 22"),
    "missing ip field": (
        "ip",
        {k: v for k, v in example_profile().items() if k != "essence"},
        "ip_profile.essence: is required",
    ),
}


@pytest.mark.parametrize("case", INVALID_CASES, ids=list(INVALID_CASES))
def test_invalid_files_name_the_field_and_change_nothing(tmp_path, case):
    _run(EXAMPLE_IP_PROFILE, EXAMPLE_CONFIG)
    before = _db_state()
    which, document, message = INVALID_CASES[case]
    ip_path, config_path = EXAMPLE_IP_PROFILE, EXAMPLE_CONFIG
    if which == "config":
        config_path = _write(tmp_path, "config.json", document)
    else:
        ip_path = _write(tmp_path, "ip.json", document)
    with pytest.raises(CommandError) as exc_info:
        _run(ip_path, config_path)
    assert message in str(exc_info.value)
    assert "nothing changed" in str(exc_info.value)
    assert _db_state() == before


def test_it_reports_errors_in_both_files_at_once(tmp_path):
    ip_path = _write(tmp_path, "ip.json", {"name": "only a name"})
    config_path = _write(tmp_path, "config.json", _broken_config(lambda c: c.pop("goal_type")))
    with pytest.raises(CommandError) as exc_info:
        _run(ip_path, config_path)
    text = str(exc_info.value)
    assert "ip_profile.essence: is required" in text
    assert "config.goal_type: is required" in text
    assert Theme.objects.count() == 0


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(CommandError, match="config: cannot read"):
        _run(EXAMPLE_IP_PROFILE, tmp_path / "nope.json")


def test_check_only_validates():
    assert "valid" in _run(EXAMPLE_IP_PROFILE, EXAMPLE_CONFIG, "--check")
    assert Theme.objects.count() == 0


def _loop_running(django_capture_on_commit_callbacks) -> None:
    """The real loop, started on the example theme (a loop needs a theme to start)."""
    _run(EXAMPLE_IP_PROFILE, EXAMPLE_CONFIG)
    with django_capture_on_commit_callbacks():
        loop_start()
    assert loop_state_get().state == LoopState.State.RUNNING


def _observe_switch(monkeypatch, *, fail: bool = False) -> list[str]:
    """The loop's state as the theme switch sees it (optionally making the switch fail)."""
    seen: list[str] = []
    real = newtheme.theme_activate_from_files

    def observe(**kwargs):
        seen.append(loop_state_get().state)
        if fail:
            raise ThemeTransitionError("another theme was activated at the same time")
        return real(**kwargs)

    monkeypatch.setattr(newtheme, "theme_activate_from_files", observe)
    return seen


def _loop_audit_actions() -> list[str]:
    return list(
        AuditEvent.objects.filter(action__startswith="goals.loop_")
        .order_by("pk")
        .values_list("action", flat=True)
    )


def test_it_pauses_a_running_loop_and_resumes_it(
    monkeypatch, tmp_path, django_capture_on_commit_callbacks
):
    _loop_running(django_capture_on_commit_callbacks)
    seen = _observe_switch(monkeypatch)
    with django_capture_on_commit_callbacks():
        output = _run(
            EXAMPLE_IP_PROFILE, _write(tmp_path, "c.json", example_config(explore_ratio=0.2))
        )
    assert seen == [LoopState.State.PAUSED]
    assert loop_state_get().state == LoopState.State.RUNNING
    assert "loop paused" in output and "loop resumed" in output
    assert Theme.objects.get(status=Theme.Status.ACTIVE).explore_ratio == 0.2


def test_it_leaves_a_stopped_loop_alone(monkeypatch):
    seen = _observe_switch(monkeypatch)
    before = _loop_audit_actions()
    output = _run(EXAMPLE_IP_PROFILE, EXAMPLE_CONFIG)
    assert seen == [LoopState.State.STOPPED]
    assert loop_state_get().state == LoopState.State.STOPPED
    assert _loop_audit_actions() == before
    assert "loop paused" not in output


def test_it_leaves_a_paused_loop_paused(monkeypatch, django_capture_on_commit_callbacks):
    _loop_running(django_capture_on_commit_callbacks)
    loop_pause(reason="a person paused it")
    seen = _observe_switch(monkeypatch)
    _run(EXAMPLE_IP_PROFILE, EXAMPLE_CONFIG)
    state = loop_state_get()
    assert seen == [LoopState.State.PAUSED]
    assert (state.state, state.reason) == (LoopState.State.PAUSED, "a person paused it")


def test_invalid_files_never_pause_the_loop(tmp_path, django_capture_on_commit_callbacks):
    _loop_running(django_capture_on_commit_callbacks)
    before = _loop_audit_actions()
    with pytest.raises(CommandError):
        _run(EXAMPLE_IP_PROFILE, _write(tmp_path, "config.json", "{"))
    assert loop_state_get().state == LoopState.State.RUNNING
    assert _loop_audit_actions() == before


def test_the_loop_is_resumed_even_when_the_switch_fails(
    monkeypatch, django_capture_on_commit_callbacks
):
    _loop_running(django_capture_on_commit_callbacks)
    seen = _observe_switch(monkeypatch, fail=True)
    with django_capture_on_commit_callbacks(), pytest.raises(CommandError, match="nothing changed"):
        _run(EXAMPLE_IP_PROFILE, EXAMPLE_CONFIG)
    assert seen == [LoopState.State.PAUSED]
    assert loop_state_get().state == LoopState.State.RUNNING


def _deep(depth: int) -> str:
    return '{"project_name": ' + "[" * depth + "]" * depth + "}"


HOSTILE_CASES = {
    "nested 100,000 deep": (_deep(100_000), "config: JSON nested deeper than 64 levels"),
    "NaN": (
        json.dumps(example_config()).replace('"explore_ratio": 0.6', '"explore_ratio": NaN'),
        "config: NaN is not a JSON number",
    ),
    "Infinity": (
        json.dumps(example_config()).replace('"explore_ratio": 0.6', '"explore_ratio": Infinity'),
        "config: Infinity is not a JSON number",
    ),
    "overflowing number": (
        json.dumps(example_config()).replace('"explore_ratio": 0.6', '"explore_ratio": 1e999'),
        "config: a number is too large to store",
    ),
    "lone surrogate escape": (
        json.dumps({**example_config(), "project_name": "x"}).replace('"x"', '"a\\ud800b"'),
        "config: value 'a\\ud800b': contains an invalid character",
    ),
}


@pytest.mark.parametrize("case", HOSTILE_CASES, ids=list(HOSTILE_CASES))
def test_hostile_json_is_one_clear_line_and_changes_nothing(tmp_path, case):
    _run(EXAMPLE_IP_PROFILE, EXAMPLE_CONFIG)
    before = _db_state()
    text, message = HOSTILE_CASES[case]
    config_path = _write(tmp_path, "config.json", text)
    with pytest.raises(CommandError) as exc_info:
        _run(EXAMPLE_IP_PROFILE, config_path)
    assert message in str(exc_info.value)
    assert "nothing changed" in str(exc_info.value)
    assert _db_state() == before


def test_an_endless_file_is_refused_after_a_bounded_read():
    with pytest.raises(CommandError) as exc_info:
        _run(EXAMPLE_IP_PROFILE, Path("/dev/zero"))
    assert "config: /dev/zero is larger than 1,000,000 bytes" in str(exc_info.value)


def test_a_file_that_is_not_utf8_is_refused_naming_it(tmp_path):
    path = tmp_path / "config.json"
    path.write_bytes(b'{"project_name": "\xff\xfe"}')
    with pytest.raises(CommandError) as exc_info:
        _run(EXAMPLE_IP_PROFILE, path)
    assert "config: not UTF-8 text" in str(exc_info.value)


def test_a_long_bad_value_is_quoted_by_a_prefix_only(tmp_path):
    config = example_config()
    config["iteration_policy"]["snapshot_every"] = "z" * 500_000
    path = _write(tmp_path, "config.json", config)
    with pytest.raises(CommandError) as exc_info:
        _run(EXAMPLE_IP_PROFILE, path)
    assert "config.iteration_policy.snapshot_every" in str(exc_info.value)
    assert len(str(exc_info.value)) < 2000
