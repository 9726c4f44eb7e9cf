"""The API token admin: creating one shows the token once; the list shows only the prefix."""

from __future__ import annotations

import hashlib
import re

import pytest
from django.test import Client

from tests.personas import person_create
from workflows.models import ApiToken

pytestmark = pytest.mark.django_db

ADD = "/admin/workflows/apitoken/add/"
LIST = "/admin/workflows/apitoken/"


@pytest.fixture
def admin_client() -> Client:
    admin = person_create("root", superuser=True)
    client = Client()
    client.force_login(admin)
    return client


def test_creating_a_token_shows_it_once_and_stores_its_hash(admin_client):
    owner = person_create("owner")

    response = admin_client.post(ADD, {"user": owner.pk, "name": "nightly export"})

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    raw = re.search(r'value="(bza_[^"]+)"', response.content.decode()).group(1)
    token = ApiToken.objects.get()
    assert token.digest == hashlib.sha256(raw.encode()).hexdigest()
    assert token.user == owner

    listing = admin_client.get(LIST).content.decode()
    assert token.prefix in listing
    assert raw not in listing
    assert raw not in admin_client.get(f"{LIST}{token.pk}/change/").content.decode()


def test_the_revoke_action_revokes(admin_client):
    owner = person_create("owner")
    admin_client.post(ADD, {"user": owner.pk, "name": "ci"})
    token = ApiToken.objects.get()

    admin_client.post(LIST, {"action": "revoke_selected", "_selected_action": [token.pk]})

    token.refresh_from_db()
    assert token.revoked_at is not None


def test_staff_without_permission_cannot_add(charlie):
    client = Client()
    client.force_login(charlie)
    assert client.get(ADD).status_code == 403
    assert not ApiToken.objects.exists()
