"""The Japanese catalogue (bizagent.i18n_messages): every string bizagent marks for
translation has a Japanese translation, and the committed .mo is the .po compiled, so
a clean clone runs translated without gettext binaries."""

from __future__ import annotations

import re
from pathlib import Path

import polib
import pytest

from bizagent.i18n_messages import (
    CATALOGUE_LANGUAGES,
    catalogue_compile,
    catalogue_update,
    marked_messages,
    po_path,
)

PLACEHOLDER = re.compile(r"%\((\w+)\)s")


@pytest.mark.parametrize("language", CATALOGUE_LANGUAGES)
def test_every_marked_string_has_a_translation(language):
    catalogue = {
        (entry.msgctxt or "", entry.msgid): entry for entry in polib.pofile(str(po_path(language)))
    }
    untranslated = []
    for key, message in sorted(marked_messages().items()):
        entry = catalogue.get(key)
        done = (
            entry is not None
            and not entry.fuzzy
            and (all(entry.msgstr_plural.values()) if message.plural else entry.msgstr)
        )
        if not done:
            untranslated.append(f"{message.where}: {message.msgid!r}")
    assert untranslated == [], (
        f"marked strings without a {language} translation (run `make messages`, translate "
        f"them in {po_path(language)}, run it again):\n" + "\n".join(untranslated)
    )


@pytest.mark.parametrize("language", CATALOGUE_LANGUAGES)
def test_translations_keep_every_placeholder(language):
    wrong = []
    for entry in polib.pofile(str(po_path(language))):
        wanted = sorted(PLACEHOLDER.findall(entry.msgid))
        texts = list(entry.msgstr_plural.values()) if entry.msgid_plural else [entry.msgstr]
        wrong += [entry.msgid for text in texts if sorted(PLACEHOLDER.findall(text)) != wanted]
    assert wrong == []


@pytest.mark.parametrize("language", CATALOGUE_LANGUAGES)
def test_the_committed_mo_is_the_po_compiled(language, tmp_path):
    fresh = catalogue_compile(language=language, target=tmp_path / "django.mo")
    committed = po_path(language).with_suffix(".mo")
    assert committed.read_bytes() == fresh.read_bytes(), (
        f"{committed} is out of date with its .po: run `make messages` and commit it"
    )


def _project(root: Path, template: str, code: str) -> Path:
    (root / "templates").mkdir(parents=True)
    (root / "templates" / "page.html").write_text(template, encoding="utf-8")
    (root / "goals").mkdir()
    (root / "goals" / "views.py").write_text(code, encoding="utf-8")
    return root


def test_it_finds_strings_marked_in_templates_and_code(tmp_path):
    root = _project(
        tmp_path,
        '{% load i18n %}<h1>{% translate "Sales this week" %}</h1>\n'
        "{% blocktranslate count counter=n %}{{ counter }} idea{% plural %}{{ counter }} ideas"
        "{% endblocktranslate %}",
        "from django.utils.translation import gettext as _, pgettext_lazy\n"
        'TITLE = _("Budget used up")\n'
        'VERB = pgettext_lazy("loop", "Start")\n'
        'NAME = f"not {TITLE}"\n'
        "print(_(NAME))\n",
    )
    found = marked_messages(root)
    assert set(found) == {
        ("", "Sales this week"),
        ("", "%(counter)s idea"),
        ("", "Budget used up"),
        ("loop", "Start"),
    }
    assert found[("", "%(counter)s idea")].plural == "%(counter)s ideas"
    assert found[("", "Budget used up")].where == "goals/views.py:2"


def test_update_adds_new_strings_untranslated_and_keeps_translations(tmp_path, monkeypatch):
    root = _project(
        tmp_path, '{% load i18n %}{% translate "Home" %}{% translate "New words" %}', ""
    )
    monkeypatch.setattr("bizagent.i18n_messages.LOCALE_DIR", tmp_path / "locale")
    path = po_path("ja")
    path.parent.mkdir(parents=True)
    catalogue = polib.POFile()
    catalogue.append(polib.POEntry(msgid="Home", msgstr="ホーム"))
    catalogue.save(str(path))

    added = catalogue_update(language="ja", root=root)

    assert [message.msgid for message in added] == ["New words"]
    entries = {entry.msgid: entry.msgstr for entry in polib.pofile(str(path))}
    assert entries == {"Home": "ホーム", "New words": ""}
