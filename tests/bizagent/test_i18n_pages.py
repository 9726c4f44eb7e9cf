"""The pages people use, the mails and the Telegram messages speak the reader's language.

Two halves. (1) Nothing is left unmarked: in each template of these pages every word a
person reads is inside ``{% translate %}``/``{% blocktranslate %}`` (what is left after
taking out the marked text, the tags and the variables has no English words), and each
file marks what ``bizagent.i18n_messages`` extracts. (2) Marked means translated: with a
pseudo-Japanese catalogue injected for the test (every marked msgid wrapped in 〔〕, so
the test does not depend on the real catalogue being merged yet), the pages rendered for
a browser asking ``ja`` and the mails sent under ``BIZAGENT_LANGUAGE=ja`` carry the
translated words, placeholders filled.
"""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from django.contrib.auth.models import User
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.translation.template import templatize

from bizagent.i18n_messages import ROOT, Message, _calls
from tests.bizagent.i18n_pseudo import all_marked, pseudo, pseudo_ja  # noqa: F401  (a fixture)

PAGE_TEMPLATES = (
    "templates/admin/goals/goal/confirm.html",
    "templates/admin/goals/goal/new.html",
    "templates/admin/goals/goal/page.html",
    "templates/goals/active_goals.html",
    "templates/goals/blocked_work_partial.html",
    "templates/goals/loop_panel.html",
    "templates/goals/loop_panel_partial.html",
    "templates/workflows/copilot_panel.html",
    "templates/admin/decisions/telegram_link.html",
    "templates/admin/decisions/notify_prefs.html",
    *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "templates/decisions/email").iterdir()),
    "templates/goals/mail/report.html",
    "templates/goals/mail/report.txt",
)
CODE = (
    "goals/admin_goals.py",
    "workflows/admin_copilot.py",
    "decisions/notify_views.py",
    "decisions/telegram_views.py",
    "decisions/services/notify_prefs.py",
    "decisions/services/mail.py",
    "goals/services/reports.py",
    "decisions/services/telegram/messages.py",
)
#: Words that are not English to translate: names, codes and commands shown as they are.
NOT_WORDS = {"bizagent"}

_MARKED = [
    re.compile(r"{% comment %}.*?{% endcomment %}", re.S),
    re.compile(r"{#.*?#}", re.S),
    re.compile(r"{% blocktranslate.*?{% endblocktranslate %}", re.S),
    re.compile(r"{% translate (\"[^\"]*\"|'[^']*').*?%}", re.S),
    re.compile(r"<style>.*?</style>", re.S),
]
_CODE = [re.compile(r"{%.*?%}", re.S), re.compile(r"{{.*?}}", re.S), re.compile(r"&\w+;")]
#: Attributes a person reads: on any element, and a submit input's ``value`` (a
#: button's ``value`` is posted, not shown).
_ATTRIBUTES = re.compile(r'\b(?:placeholder|aria-label|title|alt)="([^"]*)"')
_INPUT_VALUE = re.compile(r'<input[^>]*\bvalue="([^"]*)"')


def _words(text: str) -> list[str]:
    for pattern in _CODE:
        text = pattern.sub(" ", text)
    return re.findall(r"[A-Za-z]{2,}", text)


def unmarked_words(text: str) -> list[str]:
    """English words a person would read that no translate tag covers."""
    for pattern in _MARKED:
        text = pattern.sub(" ", text)
    words = []
    for value in _ATTRIBUTES.findall(text) + _INPUT_VALUE.findall(text):
        words += _words(value)
    words += _words(re.sub(r"<[^>]*>", " ", text))
    return [w for w in words if w not in NOT_WORDS]


def test_the_check_finds_unmarked_words():
    template = (
        '{% load i18n %}<h2>Goals</h2><input value="Start"><p>{% translate "Fine" %}'
        '{{ goal.text }} <a title="{% translate "Also fine" %}">x</a></p>'
    )
    assert unmarked_words(template) == ["Start", "Goals"]
    assert (
        unmarked_words('<button name="action" value="link">{% translate "Link" %}</button>') == []
    )


@pytest.mark.parametrize("path", PAGE_TEMPLATES)
def test_every_word_of_the_template_is_marked(path):
    assert unmarked_words((ROOT / path).read_text(encoding="utf-8")) == []


def _file_messages(path: str) -> list[Message]:
    """What the catalogue tool extracts from this one file (as ``marked_messages`` does)."""
    text = (ROOT / path).read_text(encoding="utf-8")
    if path.endswith(".py"):
        return list(_calls(text, path))
    lines = templatize(text, origin=path).splitlines()
    return [m for line in lines if "gettext(" in line for m in _calls(line.strip(), path)]


@pytest.mark.parametrize("path", PAGE_TEMPLATES + CODE)
def test_the_catalogue_tool_extracts_the_files_strings(path):
    found = {m.key for m in _file_messages(path)}
    assert found, f"{path}: nothing marked for translation"
    # And the whole-project extraction (what the catalogue is updated from) has them.
    assert found <= set(all_marked())


# --- rendered in Japanese -------------------------------------------------------------


@pytest.fixture
def staff(client, db) -> User:
    user = User.objects.create_superuser("hanako", "hanako@example.com", "pw-hanako-123")
    client.force_login(user)
    return user


def _page(client, url: str) -> str:
    response = client.get(url, HTTP_ACCEPT_LANGUAGE="ja")
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.usefixtures("pseudo_ja")
def test_the_new_goal_page_in_japanese(client, staff):
    html = _page(client, reverse("admin:goals_goal_add"))
    assert pseudo("Understand and plan") in html
    assert pseudo("New goal") in html
    assert 'value="Understand and plan"' not in html


@pytest.mark.usefixtures("pseudo_ja")
def test_the_goal_page_in_japanese(client, staff):
    from tests.goals.report_data import goal_make

    goal = goal_make()
    html = _page(client, reverse("admin:goals_goal_change", args=[goal.pk]))
    for words in ("What was understood", "Runs it started", "Monitoring figures", "achieved"):
        assert pseudo(words) in html
    assert pseudo("Goal #%(id)s") % {"id": goal.pk} in html
    assert "<h2>Progress</h2>" not in html


@pytest.mark.usefixtures("pseudo_ja")
def test_the_agent_loop_panel_in_japanese(client, staff):
    html = _page(client, reverse("admin:goals_loopstate_changelist"))
    assert pseudo("Iterations per hour") in html
    assert pseudo("Agent loop") in html


@pytest.mark.usefixtures("pseudo_ja")
def test_the_notification_and_telegram_pages_in_japanese(client, staff):
    html = _page(client, reverse("admin:decisions_notify_prefs"))
    assert pseudo("Save my preferences") in html
    assert pseudo("Reaches me by") in html
    html = _page(client, reverse("admin:decisions_telegramlink_link"))
    assert pseudo("Link Telegram") in html


@pytest.mark.usefixtures("pseudo_ja")
def test_a_saved_preference_is_confirmed_in_japanese(client, staff):
    response = client.post(
        reverse("admin:decisions_notify_prefs"), {}, HTTP_ACCEPT_LANGUAGE="ja", follow=True
    )
    assert pseudo("Nothing changed: your notification preferences are as they were.") in (
        response.content.decode()
    )


@pytest.mark.usefixtures("pseudo_ja")
def test_the_copilot_panel_in_japanese():
    result = {
        "error": None,
        "html": "answer",
        "run_id": 7,
        "edits": [
            {"op": "step_added", "kind": "step", "verb": "added", "name": "s", "changes": []}
        ],
        "validation": [{"message": "a"}, {"message": "b"}],
        "draft_id": None,
        "rolled_back": False,
    }
    from workflows.admin_copilot import _EDIT_LABELS

    result["edits"][0]["label"] = _EDIT_LABELS[("step", "added")]
    with translation.override("ja"):
        html = render_to_string(
            "workflows/copilot_panel.html",
            {"workflow": SimpleNamespace(pk=1), "thread": [], "result": result},
        )
    assert pseudo("Ask the copilot") in html
    assert pseudo("step added") in html
    # The plural form, with its number.
    assert pseudo("The draft is not valid (%(problems)s problems).") % {"problems": 2} in html
