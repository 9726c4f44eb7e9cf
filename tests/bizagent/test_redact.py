"""``url_redact`` and ``text_redact``: credentials in URLs never get shown."""

from __future__ import annotations

import pytest

from bizagent.env import url_redacted
from bizagent.llm.errors import LLMUnreachable
from bizagent.redact import text_redact, url_redact, url_secrets


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://user:pw-123@127.0.0.1:8000/v1", "http://***:***@127.0.0.1:8000/v1"),
        ("https://tok-abc@host/v1", "https://***@host/v1"),
        ("http://h/v1?api_key=zz9&model=x", "http://h/v1?api_key=***&model=x"),
        ("http://h/v1?a=1&Token=zz9&Api-Key=q1", "http://h/v1?a=1&Token=***&Api-Key=***"),
        ("http://h:80/v1", "http://h:80/v1"),
        ("postgres://u:p%40ss@db:5432/x", "postgres://***:***@db:5432/x"),
        ("not a url", "not a url"),
    ],
)
def test_it_masks_userinfo_and_secret_query_values(url, shown):
    assert url_redact(url) == shown
    assert url_redacted(url) == shown


def test_it_never_raises_on_a_broken_url():
    assert url_redact("http://u:pw@[::1") == "http://***@[::1"


def test_text_redact_masks_urls_inside_text_and_the_bare_secrets():
    url = "http://ops:pw%2Fsecret@h/v1"
    text = "failed at http://ops:pw%2Fsecret@h/v1/completions; auth pw/secret refused"
    redacted = text_redact(text, secrets=url_secrets(url))
    assert "pw%2Fsecret" not in redacted and "pw/secret" not in redacted
    assert "http://***:***@h/v1/completions" in redacted


def test_a_model_error_keeps_only_the_redacted_url():
    url = "http://ops:pw-55aa@127.0.0.1:1/v1/completions"
    exc = LLMUnreachable(f"cannot connect to {url} as ops:pw-55aa", url=url, model="m")
    assert "pw-55aa" not in str(exc) and "pw-55aa" not in exc.url
    assert "pw-55aa" not in exc.detail
    assert "127.0.0.1:1/v1/completions" in str(exc)
