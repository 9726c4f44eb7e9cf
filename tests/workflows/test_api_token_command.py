"""manage.py api_token create: prints a working token once, stores it hashed."""

from __future__ import annotations

import hashlib
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from workflows.models import ApiToken
from workflows.services.tokens import api_token_authenticate

pytestmark = pytest.mark.django_db


def test_it_prints_a_token_that_authenticates_as_the_user(alice):
    out, err = StringIO(), StringIO()

    call_command(
        "api_token", "create", "--user", "alice", "--name", "nightly", stdout=out, stderr=err
    )

    raw = out.getvalue().strip()
    assert api_token_authenticate(raw) == alice
    token = ApiToken.objects.get()
    assert token.name == "nightly"
    assert token.digest == hashlib.sha256(raw.encode()).hexdigest()
    assert "shown once" in err.getvalue()
    assert raw not in err.getvalue()


def test_it_refuses_an_unknown_user_and_makes_nothing(db):
    with pytest.raises(CommandError, match="no user named 'nobody'"):
        call_command("api_token", "create", "--user", "nobody")
    assert not ApiToken.objects.exists()
