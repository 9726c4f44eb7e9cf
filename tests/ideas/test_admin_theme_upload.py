"""Loading a theme from the admin: upload both files, read the preview, activate.

The upload uses newtheme's rules (same schemas, every error at once), shown under the file
they belong to with the path in words; invalid files write nothing; activation is one
audited POST; the model permissions decide who may do each, and a refusal says why.
"""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from bizagent.bounded_json import MAX_BYTES
from decisions.models import AuditEvent
from ideas.models import IPProfile, Theme
from ideas.theme_files import EXAMPLE_DIR

pytestmark = pytest.mark.django_db

UPLOAD = "admin:ideas_theme_upload"


def _files(ip_profile: bytes | None = None, config: bytes | None = None) -> dict:
    return {
        "ip_profile": SimpleUploadedFile(
            "ip_profile.json", ip_profile or (EXAMPLE_DIR / "ip_profile.json").read_bytes()
        ),
        "config": SimpleUploadedFile(
            "config.json", config or (EXAMPLE_DIR / "config.json").read_bytes()
        ),
    }


def _broken_config() -> bytes:
    config = json.loads((EXAMPLE_DIR / "config.json").read_text(encoding="utf-8"))
    config["iteration_policy"]["explore_ratio"] = 1.5
    del config["constraints"]["budget"]["currency"]
    return json.dumps(config).encode()


def _written() -> tuple[int, int, int]:
    return Theme.objects.count(), IPProfile.objects.count(), AuditEvent.objects.count()


def test_the_example_files_become_a_draft_to_preview(client, alice):
    client.force_login(alice)
    response = client.post(reverse(UPLOAD), _files())
    theme = Theme.objects.get()
    assert theme.status == Theme.Status.DRAFT
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:ideas_theme_preview", args=[theme.pk])
    assert AuditEvent.objects.filter(action="ideas.theme_drafted", actor=alice).count() == 1

    page = client.get(response["Location"]).content.decode()
    assert "もちうさ (Mochiusa)" in page  # brand
    assert "ホラー・グロテスク表現 (horror and gore)" in page  # a taboo, as table text
    assert "3000000 JPY per quarter" in page  # the budget in words
    assert "Share of work on new directions" in page  # policy keys in people's words
    assert '"essence"' not in page and "{&quot;" not in page  # no raw JSON
    assert "Activate this theme" in page


def test_uploading_the_same_files_twice_adds_nothing(client, alice):
    client.force_login(alice)
    client.post(reverse(UPLOAD), _files())
    before = _written()
    client.post(reverse(UPLOAD), _files())
    assert _written() == before


def test_every_error_is_shown_under_its_file_in_words_and_nothing_is_written(client, alice):
    client.force_login(alice)
    broken_profile = b'{"name": "x"}'
    before = _written()
    response = client.post(reverse(UPLOAD), _files(broken_profile, _broken_config()))
    assert response.status_code == 200
    assert _written() == before
    form = response.context["form"]
    profile_errors = " ".join(form.errors["ip_profile"])
    config_errors = " ".join(form.errors["config"])
    # Every missing profile field at once, not the first one only.
    for words in ("IP profile › Essence: is required", "IP profile › Taboos: is required"):
        assert words in profile_errors
    assert "Project config › Iteration policy › Share of work on new directions" in config_errors
    assert "Project config › Constraints › Budget › Currency: is required" in config_errors
    assert response.context["error_count"] == len(form.errors["ip_profile"]) + len(
        form.errors["config"]
    )
    assert "nothing was saved" in response.content.decode()


def test_a_file_that_is_not_json_names_its_file(client, alice):
    client.force_login(alice)
    response = client.post(reverse(UPLOAD), _files(config=b"{not json"))
    assert response.status_code == 200
    assert Theme.objects.count() == 0
    assert response.context["form"].errors["config"]
    assert "ip_profile" not in response.context["form"].errors


def test_a_file_over_the_bound_is_refused_unread(client, alice):
    client.force_login(alice)
    response = client.post(reverse(UPLOAD), _files(config=b" " * (MAX_BYTES + 1)))
    assert response.status_code == 200
    assert "larger than" in " ".join(response.context["form"].errors["config"])
    assert Theme.objects.count() == 0


def test_activating_the_draft_is_one_audited_post(client, alice):
    client.force_login(alice)
    client.post(reverse(UPLOAD), _files())
    theme = Theme.objects.get()
    activate = reverse("admin:ideas_theme_activate", args=[theme.pk])
    assert client.get(activate).status_code == 405
    theme.refresh_from_db()
    assert theme.status == Theme.Status.DRAFT

    response = client.post(activate, follow=True)
    theme.refresh_from_db()
    assert theme.status == Theme.Status.ACTIVE
    assert AuditEvent.objects.filter(action="ideas.theme_activated", actor=alice).count() == 1
    assert "is now the active theme" in response.content.decode()

    # A second POST (a double click) changes nothing and says why.
    response = client.post(activate, follow=True)
    assert "was not activated" in response.content.decode()
    assert AuditEvent.objects.filter(action="ideas.theme_activated").count() == 1


def test_someone_without_the_theme_permissions_is_refused_with_the_reason(client, bob, theme):
    client.force_login(bob)  # bob may change ideas, not themes
    response = client.post(reverse(UPLOAD), _files())
    assert response.status_code == 403
    assert "ideas.add_theme" in response.content.decode()
    draft = Theme.objects.create(
        name="draft", ip_profile=theme.ip_profile, config=theme.config, config_sha256="x"
    )
    response = client.post(reverse("admin:ideas_theme_activate", args=[draft.pk]))
    assert response.status_code == 403
    assert "ideas.change_theme" in response.content.decode()
    draft.refresh_from_db()
    assert draft.status == Theme.Status.DRAFT
    assert Theme.objects.count() == 2
