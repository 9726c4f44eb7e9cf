"""The ideas and goals pages and the commands staff run speak the reader's language.

(1) Nothing left unmarked in the ideas/goals admin templates (the same check as
``tests/bizagent/test_i18n_pages.py``), and the catalogue tool extracts their strings.
(2) The model labels are marked: with a pseudo-Japanese catalogue (``〔msgid〕``, so the
tests hold before and after the real Japanese is merged) each changelist rendered for a
browser asking ``ja`` shows the translated model name and column labels, rows included.
(3) ``newtheme`` answers in ``BIZAGENT_LANGUAGE`` (``LANGUAGE_CODE``), whatever language
the calling process had active, its errors included.
"""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.test import override_settings
from django.urls import reverse
from django.utils import translation

from bizagent.i18n_messages import ROOT
from goals.models import (
    CatalogueItem,
    Goal,
    GoalReport,
    GoalRun,
    Iteration,
    LoopState,
    MetricSnapshot,
    Task,
)
from ideas.models import Idea, IdeaRefusal, IPProfile, Snapshot, Theme
from tests.bizagent.i18n_pseudo import all_marked, pseudo, pseudo_ja  # noqa: F401  (a fixture)
from tests.bizagent.test_i18n_pages import _file_messages, unmarked_words
from tests.goals.factories import IdeaFactory, TaskFactory
from tests.ideas.factories import EXAMPLE_CONFIG, EXAMPLE_IP_PROFILE, SnapshotFactory

#: Every test here reads the pseudo-Japanese catalogue (〔msgid〕) for ja.
pytestmark = pytest.mark.usefixtures("pseudo_ja")

TEMPLATES = (
    *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "templates/admin/ideas").rglob("*.html")),
    *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "templates/admin/goals").rglob("*.html")),
    "templates/goals/catalogue_change_list.html",
)


@pytest.mark.parametrize("path", TEMPLATES)
def test_every_word_of_the_template_is_marked(path):
    assert unmarked_words((ROOT / path).read_text(encoding="utf-8")) == []


@pytest.mark.parametrize("path", TEMPLATES)
def test_the_catalogue_tool_extracts_the_templates_strings(path):
    found = {m.key for m in _file_messages(path)}
    assert found, f"{path}: nothing marked for translation"
    assert found <= set(all_marked())


# --- changelists under Accept-Language: ja ---------------------------------------------

MODELS = (
    Idea,
    IdeaRefusal,
    IPProfile,
    Theme,
    Snapshot,
    Task,
    Iteration,
    LoopState,
    MetricSnapshot,
    CatalogueItem,
    Goal,
)


@pytest.fixture
def rows(theme, catalogue_seeded):
    """At least one row for the lists that show rows, so choice labels are rendered."""
    IdeaFactory(theme=theme)
    TaskFactory(theme=theme)
    SnapshotFactory(theme=theme)
    return theme


@pytest.mark.django_db
@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_the_changelist_renders_in_japanese(client, rows, model):
    admin = User.objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(admin)
    opts = model._meta
    response = client.get(
        reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"), HTTP_ACCEPT_LANGUAGE="ja"
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert response["Content-Language"] == "ja"
    # The model's name as the catalogue gives it, not the English msgid alone.
    with translation.override("en"):
        names = {pseudo(str(opts.verbose_name_plural)), pseudo(str(opts.verbose_name))}
    assert any(name in page for name in names), f"{model.__name__}: no translated name"


@pytest.mark.django_db
def test_choice_and_field_labels_come_from_the_catalogue(client, rows):
    admin = User.objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(admin)
    page = client.get(
        reverse("admin:goals_task_changelist"), HTTP_ACCEPT_LANGUAGE="ja"
    ).content.decode()
    assert pseudo("Ready") in page  # Task.Status label of the row
    with translation.override("ja"):
        assert str(Task._meta.get_field("status").verbose_name) == pseudo("status")
        assert str(GoalRun._meta.verbose_name_plural) == pseudo("goal runs")
        assert str(GoalReport.Kind.WEEKLY.label) == pseudo("Weekly")
        assert str(Idea.Status.CANDIDATE.label) == pseudo("Candidate")


# --- newtheme in BIZAGENT_LANGUAGE -------------------------------------------------------


def _newtheme(ip_profile: Path, config: Path, *extra: str) -> str:
    out = StringIO()
    call_command(
        "newtheme", "--ip-profile", str(ip_profile), "--config", str(config), *extra, stdout=out
    )
    return out.getvalue().strip()


def _ja(msgid: str) -> str:
    with translation.override("ja"):
        return translation.gettext(msgid)


@pytest.mark.django_db
@override_settings(LANGUAGE_CODE="ja")
def test_newtheme_speaks_the_configured_language_whatever_is_active():
    # The caller had English active (a shell, a test, a request): the command still
    # answers in BIZAGENT_LANGUAGE.
    with translation.override("en"):
        output = _newtheme(EXAMPLE_IP_PROFILE, EXAMPLE_CONFIG, "--check")
    assert output == _ja("both files are valid")
    assert output == pseudo("both files are valid")


@pytest.mark.django_db
@override_settings(LANGUAGE_CODE="ja")
def test_newtheme_switch_reports_in_japanese():
    with translation.override("en"):
        output = _newtheme(EXAMPLE_IP_PROFILE, EXAMPLE_CONFIG)
    theme = Theme.objects.get(status=Theme.Status.ACTIVE)
    assert output == _ja("active theme: %(name)s (#%(id)s), IP profile %(profile)s") % {
        "name": theme.name,
        "id": theme.pk,
        "profile": theme.ip_profile,
    }


@pytest.mark.django_db
@override_settings(LANGUAGE_CODE="ja")
def test_newtheme_errors_are_in_japanese_and_change_nothing(tmp_path):
    config = json.loads(EXAMPLE_CONFIG.read_text(encoding="utf-8"))
    del config["goal_type"]
    config["surprise"] = 1
    bad = tmp_path / "config.json"
    bad.write_text(json.dumps(config), encoding="utf-8")
    with translation.override("en"), pytest.raises(CommandError) as caught:
        _newtheme(EXAMPLE_IP_PROFILE, bad)
    lines = str(caught.value).splitlines()
    assert lines[0] == _ja("invalid theme files, nothing changed:")
    assert f"  {_ja('%(field)s: is required') % {'field': 'config.goal_type'}}" in lines
    assert f"  {_ja('%(field)s: is not an allowed field') % {'field': 'config.surprise'}}" in lines
    assert Theme.objects.count() == 0


@pytest.mark.django_db
@override_settings(LANGUAGE_CODE="en")
def test_newtheme_speaks_english_when_configured():
    with translation.override("ja"):
        output = _newtheme(EXAMPLE_IP_PROFILE, EXAMPLE_CONFIG, "--check")
    assert output == "both files are valid"


# --- the other commands staff read -------------------------------------------------------


@pytest.mark.django_db
@override_settings(LANGUAGE_CODE="ja")
def test_goal_schedules_speaks_the_configured_language():
    call_command("goal_schedules", stdout=StringIO())  # the first run creates them
    out = StringIO()
    with translation.override("en"):
        call_command("goal_schedules", stdout=out)
    assert out.getvalue().strip() == pseudo("schedules up to date")


@pytest.mark.django_db
@override_settings(LANGUAGE_CODE="ja")
def test_runloop_control_speaks_the_configured_language(theme):
    out = StringIO()
    with translation.override("en"):
        call_command("runloop", "resume", stdout=out)
    assert out.getvalue().strip() == pseudo("loop is stopped; `runloop start` starts it")
    with translation.override("en"), pytest.raises(CommandError) as caught:
        call_command("runloop", "--iterations", "0")
    assert str(caught.value) == pseudo("--iterations must be at least 1")


@pytest.mark.parametrize(
    "module",
    [
        "goals.management.commands.newtheme",
        "goals.management.commands.goal_catalogue",
        "goals.management.commands.goal_schedules",
        "goals.management.commands.runloop",
        "bizagent.management.commands.ensure_admin",
        "bizagent.management.commands.llmcheck",
        "bizagent.management.commands.serve",
        "bizagent.management.commands.qcluster",
    ],
)
def test_each_staff_command_pins_the_configured_language(module):
    # The behaviour is shown above for three commands; the others (servers, the model
    # check) cannot run in a unit test, so this holds them to the same wrapper.
    from importlib import import_module

    handle = import_module(module).Command.handle
    assert getattr(handle, "__wrapped__", None) is not None, f"{module}: handle not wrapped"
    assert handle.__qualname__.endswith("Command.handle")
    assert handle.__module__ == module


@pytest.mark.django_db
@override_settings(LANGUAGE_CODE="ja")
def test_goal_command_errors_speak_the_configured_language():
    with translation.override("en"), pytest.raises(CommandError) as caught:
        call_command("goal", "1週間で200万作りたい", "--today", "soon", stdout=StringIO())
    assert str(caught.value) == pseudo("--today must be a date as YYYY-MM-DD, got %(value)s") % {
        "value": repr("soon")
    }
