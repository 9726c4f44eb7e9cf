"""The decisions app's pages in the person's language: every page-visible literal of its
models, admin, templates and commands is marked for translation (and found by the
catalogue's extraction), and the queue, a decision's page, a mailed link page and every
decisions changelist render in Japanese. Checks hold before and after the Japanese
catalogue gains the strings: they compare with ``gettext`` under ``ja``, never with a
hard-coded translation."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from django.apps import apps
from django.contrib.auth.models import User
from django.contrib.contenttypes.fields import GenericForeignKey
from django.core.management import call_command
from django.db import models
from django.urls import reverse
from django.utils import translation
from django.utils.functional import Promise

from bizagent.i18n_messages import ROOT, marked_messages
from decisions.models import Decision, SheetRow
from decisions.services.links import decision_link_issue, decision_link_token

JA = {"HTTP_ACCEPT_LANGUAGE": "ja"}

#: The templates of this part (the mails were translated before).
TEMPLATES = sorted(
    [
        *(ROOT / "templates/admin/decisions").rglob("*.html"),
        *(ROOT / "templates/decisions").glob("*.html"),
    ]
)
PYTHON = (
    [ROOT / "decisions" / "link_views.py", ROOT / "decisions/services/links.py"]
    + [
        ROOT / "decisions" / name
        for name in ("admin.py", "admin_queue.py", "admin_sheets.py", "admin_telegram.py")
    ]
    + sorted((ROOT / "decisions/management/commands").glob("[!_]*.py"))
)

# Text a person never reads as words: brand, code and markup left after the tags go.
NOT_WORDS = re.compile(r"bizagent|&\w+;|[#·—:(),.“”%\s\d-]")


def _visible_text(template: str) -> str:
    """The literal text of a template outside translate tags, variables, comments,
    markup, styles and scripts."""
    text = re.sub(r"{%\s*blocktranslate.*?{%\s*endblocktranslate\s*%}", "", template, flags=re.S)
    text = re.sub(r"{%\s*comment\s*%}.*?{%\s*endcomment\s*%}", "", text, flags=re.S)
    text = re.sub(r"<(style|script)\b.*?</\1>", "", text, flags=re.S)
    text = re.sub(r"{%.*?%}|{{.*?}}|{#.*?#}", "", text, flags=re.S)
    text = re.sub(r"<[^>]*>", "", text, flags=re.S)
    return NOT_WORDS.sub("", text)


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_template_has_english_outside_translate_tags(path: Path):
    assert _visible_text(path.read_text(encoding="utf-8")) == ""


def test_the_check_sees_unmarked_text():
    # The check itself: an unmarked heading is caught, a marked one is not.
    assert _visible_text("<h2>Decisions waiting</h2>") == "Decisionswaiting"
    assert _visible_text('<h2>{% translate "Decisions waiting" %}</h2>') == ""


def _unmarked_literals(source: str) -> list[str]:
    """Plain or f-string literals handed to what a person reads: admin labels and
    actions, admin messages, command output and errors, form choices."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.attr if isinstance(node.func, ast.Attribute) else ""
        name = name or (node.func.id if isinstance(node.func, ast.Name) else "")
        values: list[ast.expr] = []
        if name in ("display", "action"):
            values = [k.value for k in node.keywords if k.arg == "description"]
        elif name in ("message_user", "success", "error", "warning", "info"):
            values = list(node.args[1:2])
        elif name in ("write", "CommandError", "ValidationError"):
            values = list(node.args[:1])
        elif name == "ChoiceField":
            choices = [k.value for k in node.keywords if k.arg == "choices"]
            values = [
                pair.elts[1]
                for group in choices
                if isinstance(group, ast.List)
                for pair in group.elts
                if isinstance(pair, ast.Tuple)
            ]
        for value in values:
            words = [
                part.value
                for part in (value.values if isinstance(value, ast.JoinedStr) else [value])
                if isinstance(part, ast.Constant) and isinstance(part.value, str)
            ]
            # Punctuation around values ("{name}: {state}") has nothing to translate.
            if any(re.search(r"[A-Za-z]", word) for word in words):
                found.append(f"line {value.lineno}: {ast.unparse(value)}")
    return found


@pytest.mark.parametrize("path", PYTHON, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_admin_or_command_text_is_left_unmarked(path: Path):
    assert _unmarked_literals(path.read_text(encoding="utf-8")) == []


def test_the_python_check_sees_unmarked_text():
    assert _unmarked_literals('self.stdout.write(f"{n} rows")') == ["line 1: f'{n} rows'"]
    assert _unmarked_literals('self.stdout.write(_("%(n)d rows") % {"n": n})') == []
    assert _unmarked_literals('self.stdout.write(f"{name}: {state}")') == []


def _model_labels() -> list[tuple[str, object]]:
    labels: list[tuple[str, object]] = []
    for model in apps.get_app_config("decisions").get_models():
        name = model.__name__
        labels += [(f"{name} verbose_name", model._meta.verbose_name)]
        labels += [(f"{name} verbose_name_plural", model._meta.verbose_name_plural)]
        for field in model._meta.get_fields():
            # A generic relation is no column of its own: its two fields are labelled.
            if not isinstance(field, models.Field) or isinstance(field, GenericForeignKey):
                continue
            if field.auto_created:
                continue
            labels.append((f"{name}.{field.name}", field.verbose_name))
            if field.help_text:
                labels.append((f"{name}.{field.name} help_text", field.help_text))
            if f"{name}.{field.name}" in IN_THEIR_OWN_NAME:
                continue
            for _value, label in field.flatchoices or ():
                labels.append((f"{name}.{field.name} choice", label))
    return labels


#: Choices deliberately not translated: each language is named in itself (日本語,
#: English), so someone who cannot read the page still finds theirs.
IN_THEIR_OWN_NAME = {"PersonSettings.language"}


def test_every_model_label_is_marked_and_extracted():
    labels = _model_labels()
    assert len(labels) > 150  # every model, field, help text and choice was looked at
    unmarked = [where for where, label in labels if not isinstance(label, Promise)]
    assert unmarked == []
    extracted = {msgid for _context, msgid in marked_messages()}
    with translation.override(None):  # the msgids themselves
        missing = [where for where, label in labels if str(label) not in extracted]
    assert missing == []


def test_the_templates_and_commands_strings_are_extracted():
    extracted = {msgid for _context, msgid in marked_messages()}
    for msgid in (
        "Decisions waiting for you",
        "Approval queue",
        "Your decision is needed",
        "This link cannot be used",
        "Decide (%(left)s)",
        "Sheets mirror: %(pending)d pending, %(failed)d failed, %(sent)d mirrored",
        "Created tabs: %(tabs)s",
        "updates: long polling (the decisions.telegram_poll schedule)",
    ):
        assert msgid in extracted


# --- the pages render in Japanese ---------------------------------------------------


def _ja(msgid: str) -> str:
    with translation.override("ja"):
        return translation.gettext(msgid)


@pytest.mark.django_db
def test_the_queue_and_a_decision_page_render_in_japanese(client, alice, make_decision):
    decision = make_decision(title="Raise the ads budget")
    client.force_login(alice)
    queue = client.get(reverse("admin:decisions_queue"), **JA)
    assert queue.status_code == 200
    html = queue.content.decode()
    assert '<html lang="ja"' in html
    assert _ja("Decisions waiting for you") in html
    assert _ja("Approve") in html and "Raise the ads budget" in html

    page = client.get(reverse("admin:decisions_decision_change", args=[decision.pk]), **JA)
    assert page.status_code == 200
    html = page.content.decode()
    assert _ja("audit trail").capitalize() in html or _ja("audit trail") in html
    assert _ja("Reject") in html


@pytest.mark.django_db
def test_a_mailed_link_page_renders_in_japanese(client, alice, make_decision):
    decision = make_decision(title="Connect Stripe")
    link = decision_link_issue(decision=decision, recipient=alice)
    url = reverse(
        "decisions:link",
        kwargs={"decision_id": decision.pk, "token": decision_link_token(link=link)},
    )
    page = client.get(url, **JA)
    assert page.status_code == 200
    html = page.content.decode()
    assert '<html lang="ja">' in html
    assert _ja("Your decision is needed") in html and "Connect Stripe" in html


@pytest.mark.django_db
def test_a_refused_link_says_why_in_japanese(client, make_decision):
    decision = make_decision()
    url = reverse("decisions:link", kwargs={"decision_id": decision.pk, "token": "cut-off"})
    page = client.get(url, **JA)
    assert page.status_code == 400
    html = page.content.decode()
    assert _ja("This link cannot be used") in html
    assert _ja("This link is not valid. It may have been cut off or altered.") in html


@pytest.mark.django_db
def test_every_decisions_changelist_renders_in_japanese(client, make_decision):
    admin = User.objects.create_superuser("root", "root@example.com", "pw-root-123")
    make_decision(title="Listed decision")
    SheetRow.objects.create(tab="audit_log", uuid="00000000-0000-0000-0000-000000000001", values=[])
    client.force_login(admin)
    for model in apps.get_app_config("decisions").get_models():
        url = f"/admin/decisions/{model._meta.model_name}/"
        page = client.get(url, follow=True, **JA)
        if page.status_code == 404:  # not in the admin (internal rows)
            continue
        assert page.status_code == 200, url
        assert '<html lang="ja"' in page.content.decode(), url
    sheets = client.get("/admin/decisions/sheetrow/", **JA).content.decode()
    with translation.override("ja"):
        title = translation.gettext(
            "Sheets mirror: %(pending)d pending, %(failed)d failed, %(sent)d mirrored"
        ) % {"pending": SheetRow.objects.filter(status="pending").count(), "failed": 0, "sent": 0}
    assert title in sheets


# --- commands answer in BIZAGENT_LANGUAGE ---------------------------------------------


@pytest.mark.django_db
def test_a_command_runs_in_the_configured_language_whoever_calls_it(settings, monkeypatch):
    from decisions.management.commands import governance_schedules

    seen: list[str | None] = []

    def ensure() -> list[str]:
        seen.append(translation.get_language())
        return []

    monkeypatch.setattr(governance_schedules, "governance_schedules_ensure", ensure)
    settings.LANGUAGE_CODE = "ja"
    with translation.override("en"):  # a caller (a request, a test) in English
        call_command("governance_schedules", stdout=(out := _Out()))
        assert translation.get_language() == "en"  # the caller's language is given back
    assert seen == ["ja"]
    assert _ja("already in place") in out.text


class _Out:
    def __init__(self) -> None:
        self.text = ""

    def write(self, text: str) -> None:
        self.text += text

    def flush(self) -> None:  # OutputWrapper flushes
        pass


@pytest.mark.django_db
def test_a_decision_status_word_follows_the_language(make_decision):
    decision: Decision = make_decision()
    with translation.override("ja"):
        assert decision.get_status_display() == translation.gettext("Pending")
    with translation.override("en"):
        assert decision.get_status_display() == "Pending"
