"""http_post_json sends and reads JSON with orjson and says the same as requests did:
the body the server reads is the payload, and an answer orjson refuses (another
encoding, ``NaN``) is read as before."""

from __future__ import annotations

import json
import math

import pytest
import requests

from bizagent.llm.backends.base import _json_read, http_post_json
from bizagent.llm.errors import LLMMalformedOutput, LLMServerError
from tests.fake_gptoss import FakeReply


def _response(content: bytes, content_type: str = "application/json") -> requests.Response:
    response = requests.Response()
    response._content = content
    response.status_code = 200
    response.headers["Content-Type"] = content_type
    return response


def test_the_server_reads_the_payload_it_was_sent(fake_gptoss):
    fake_gptoss.enqueue(FakeReply(final="はい"))
    payload = {
        "model": "openai/gpt-oss-20b",
        "messages": [{"role": "user", "content": '月見だんご 🍡 "quoted" \\ back'}],
        "temperature": 0.7,
        "max_tokens": 4096,
        "stream": False,
        "stop": None,
    }
    body = http_post_json(
        requests.Session(),
        fake_gptoss.base_url("openai") + "/chat/completions",
        payload,
        timeout=5,
        model="openai/gpt-oss-20b",
        headers={"Authorization": "Bearer test-key"},
    )
    assert body["choices"][0]["message"]["content"] == "はい"
    assert fake_gptoss.requests[-1].body == payload


def test_a_json_server_refuses_a_body_without_its_content_type(fake_gptoss):
    """The fake answers like FastAPI does, so the content type is checked on every call."""
    url = fake_gptoss.base_url("openai") + "/chat/completions"
    refused = requests.post(url, data=json.dumps({"model": "x"}), timeout=5)
    assert refused.status_code == 400 and "Content-Type" in refused.text
    with pytest.raises(LLMServerError, match="does not exist"):
        http_post_json(requests.Session(), url, {"model": "x"}, timeout=5, model="x")


@pytest.mark.parametrize(
    "content",
    [
        json.dumps({"ok": "月見", "ids": [1, 2, 3]}).encode("utf-16"),
        json.dumps({"ok": "月見", "ids": [1, 2, 3]}, ensure_ascii=False).encode("utf-32"),
    ],
)
def test_an_answer_in_another_unicode_encoding_is_read_as_before(content):
    assert _json_read(_response(content)) == {"ok": "月見", "ids": [1, 2, 3]}


def test_an_answer_with_nan_is_read_as_before():
    answer = _json_read(_response(b'{"score": NaN, "n": 1}'))
    assert math.isnan(answer["score"]) and answer["n"] == 1


def test_an_answer_that_is_not_json_is_still_malformed(fake_gptoss):
    fake_gptoss.enqueue(FakeReply(failure="malformed_json"))
    with pytest.raises(LLMMalformedOutput, match="not JSON"):
        http_post_json(
            requests.Session(),
            fake_gptoss.base_url("vllm") + "/completions",
            {"model": "openai/gpt-oss-20b", "prompt": [1, 2, 3]},
            timeout=5,
            model="openai/gpt-oss-20b",
        )
