"""Theme validation errors (``newtheme`` and the admin's upload share them) come in the
reader's language: the field path stays as written (it names a field of the file), the
words around it come from the catalogue (pseudo-Japanese here, so the test holds before
and after the real Japanese is merged)."""

from __future__ import annotations

import json

import pytest
from django.utils import translation

from ideas.theme_files import EXAMPLE_DIR, ThemeFilesInvalid, theme_uploads_validate
from tests.bizagent.i18n_pseudo import pseudo, pseudo_ja  # noqa: F401  (a fixture)

pytestmark = pytest.mark.usefixtures("pseudo_ja")


def _errors(language: str) -> list[str]:
    config = json.loads((EXAMPLE_DIR / "config.json").read_text(encoding="utf-8"))
    del config["goal_type"]
    config["surprise"] = True
    with translation.override(language), pytest.raises(ThemeFilesInvalid) as caught:
        theme_uploads_validate(
            ip_profile_data=(EXAMPLE_DIR / "ip_profile.json").read_bytes(),
            config_data=json.dumps(config).encode(),
        )
    return caught.value.errors


def test_the_errors_are_in_the_active_language():
    errors = _errors("ja")
    assert pseudo("%(field)s: is required") % {"field": "config.goal_type"} in errors
    assert pseudo("%(field)s: is not an allowed field") % {"field": "config.surprise"} in errors


def test_english_stays_as_it_was():
    errors = _errors("en")
    assert "config.goal_type: is required" in errors
    assert "config.surprise: is not an allowed field" in errors
