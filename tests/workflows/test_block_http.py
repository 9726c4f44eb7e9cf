"""The http block against a real loopback server, through the real outbound client.

The context is a test double of ``BlockContext`` (what the engine hands a block) whose
``http`` is the product's ``HardenedHTTP``; the server is allowed by host, as an
operator would list an intranet API in ``BIZAGENT_HTTP_ALLOWED_HOSTS``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
from django.test import override_settings

from bizagent.llm.structured import schema_errors
from tests.workflows.loopback_http import LoopbackServer
from workflows.blocks import block_get
from workflows.blocks.base import (
    BlockConfigError,
    BlockRefused,
    BlockTimeout,
    BlockUpstreamError,
    Budget,
)
from workflows.blocks.http import DYNAMIC_HOST, TEXT_CHARS, HttpBlock, HttpStatusError
from workflows.graph import graph_validate
from workflows.internal_token import (
    internal_token_issue,
    internal_token_verify,
    secrets_scrub,
)
from workflows.outbound import HardenedHTTP
from workflows.templates import template_render


@dataclass
class FakeContext:
    """What the engine gives a block, with the real outbound client inside."""

    step_run_id: int = 41
    run_id: int = 7
    step_name: str = "call"
    is_system: bool = False
    allowed_hosts: tuple[str, ...] = ("127.0.0.1",)
    internal_base_url: str = "http://127.0.0.1:9"
    time_left: float = 60.0
    budget: Budget = field(default_factory=Budget)

    @property
    def idempotency_key(self) -> str:
        return f"wf-{self.run_id}-{self.step_run_id}"

    @property
    def http(self) -> HardenedHTTP:
        return HardenedHTTP(
            idempotency_key=self.idempotency_key,
            is_system=self.is_system,
            allowed_hosts=self.allowed_hosts,
            internal_base_url=self.internal_base_url,
        )

    def seconds_left(self) -> float:
        return self.time_left

    # The http block needs none of these; a call would be a bug.
    @property
    def llm(self) -> Any:
        raise AssertionError("the http block does not call the model")

    @property
    def memory(self) -> Any:
        raise AssertionError("unused")

    @property
    def retriever(self) -> Any:
        raise AssertionError("unused")

    def tool_specs(self, names: list[str]) -> list[Any]:
        raise AssertionError("unused")

    def execute_step(self, name: str, args: dict[str, Any]) -> Any:
        raise AssertionError("unused")

    def run_subflow(self, workflow: str | int, input: dict[str, Any]) -> Any:
        raise AssertionError("unused")


def run_block(config: dict[str, Any], ctx: FakeContext | None = None) -> Any:
    return HttpBlock().run(config=config, input={}, ctx=ctx or FakeContext())  # type: ignore[arg-type]


def test_it_is_registered_with_its_schemas():
    block = block_get("http")
    assert isinstance(block, HttpBlock)
    assert block.describe()["config_schema"]["required"] == ["url"]


@pytest.mark.parametrize(
    "config",
    [
        {"url": "https://x.test", "timeout": 121},
        {"url": "https://x.test", "max_bytes": 10_000_001},
        {"url": "https://x.test", "method": "TRACE"},
        {"url": "https://x.test", "expect": []},
        {"url": "https://x.test", "headers": {"X": 1}},
        {"url": "https://x.test", "bogus": 1},
        {"method": "GET"},
    ],
)
def test_the_config_schema_refuses_out_of_range_values(config: dict[str, Any]):
    assert schema_errors(config, HttpBlock.config_schema)


def test_a_get_returns_status_safe_headers_and_parsed_json(loopback_server: LoopbackServer):
    result = run_block({"url": loopback_server.url("/json")})
    assert result.port == "out"
    assert result.output["status"] == 200
    assert result.output["json"] == {"ok": True, "items": [1, 2]}
    assert result.output["text"] is None
    headers = result.output["headers"]
    assert headers["content-type"] == "application/json; charset=utf-8"
    assert headers["etag"] == '"v1"'
    assert "set-cookie" not in headers
    assert "x-internal-debug" not in headers


def test_a_text_answer_is_text_cut_to_its_limit(loopback_server: LoopbackServer):
    result = run_block({"url": loopback_server.url(f"/text?size={TEXT_CHARS + 500}")})
    assert result.output["json"] is None
    assert len(result.output["text"]) == TEXT_CHARS
    assert result.output["text"].startswith("hello world")


def test_query_json_and_form_bodies_are_sent(loopback_server: LoopbackServer):
    run_block(
        {
            "method": "post",
            "url": loopback_server.url("/echo"),
            "query": {"page": 2, "q": "売上"},
            "json": {"name": "Ada", "tags": ["a"]},
            "headers": {"X-Trace": "t-1"},
        }
    )
    run_block({"method": "PUT", "url": loopback_server.url("/echo"), "form": {"a": "1 2"}})
    posted, put = loopback_server.received
    assert posted.method == "POST"
    assert posted.query == {"page": ["2"], "q": ["売上"]}
    assert json.loads(posted.body) == {"name": "Ada", "tags": ["a"]}
    assert posted.header("X-Trace") == "t-1"
    assert put.header("Content-Type") == "application/x-www-form-urlencoded"
    assert put.body == b"a=1+2"


def test_json_and_form_together_are_refused_before_sending(loopback_server: LoopbackServer):
    config = {"method": "POST", "url": loopback_server.url("/echo"), "json": {}, "form": {}}
    assert HttpBlock().config_problems(config) == [
        ("form", "give either a json or a form body, not both")
    ]
    with pytest.raises(BlockConfigError, match="not both"):
        run_block(config)
    assert loopback_server.received == []


def test_a_config_that_templates_made_wrong_is_a_config_error(loopback_server: LoopbackServer):
    with pytest.raises(BlockConfigError, match="timeout"):
        run_block({"url": loopback_server.url("/json"), "timeout": "soon"})
    assert loopback_server.received == []


def test_a_5xx_is_a_retryable_upstream_error(loopback_server: LoopbackServer):
    with pytest.raises(BlockUpstreamError, match="answered 503") as caught:
        run_block({"url": loopback_server.url("/status/503")})
    assert caught.value.retryable


def test_an_unexpected_status_is_an_http_status_error_naming_it(loopback_server: LoopbackServer):
    with pytest.raises(HttpStatusError, match="answered 404") as caught:
        run_block({"url": loopback_server.url("/status/404")})
    assert caught.value.error_class == "http_status"
    assert caught.value.status == 404
    assert not caught.value.retryable


def test_expect_makes_other_statuses_a_success(loopback_server: LoopbackServer):
    result = run_block({"url": loopback_server.url("/status/404"), "expect": [200, 404]})
    assert result.output["status"] == 404
    assert result.output["json"] == {"error": "as asked"}
    with pytest.raises(HttpStatusError, match="answered 200"):
        run_block({"url": loopback_server.url("/json"), "expect": [201]})


def test_cost_is_recorded_as_spend(loopback_server: LoopbackServer):
    result = run_block({"url": loopback_server.url("/json"), "cost": 0.25})
    assert result.cost == Decimal("0.25")
    assert run_block({"url": loopback_server.url("/json")}).cost == Decimal(0)


def test_the_response_cap_is_the_configs(loopback_server: LoopbackServer):
    with pytest.raises(BlockRefused, match="over the cap of 2000 bytes"):
        run_block({"url": loopback_server.url("/big?size=2001"), "max_bytes": 2000})


def test_the_step_timeout_bounds_the_request(loopback_server: LoopbackServer):
    with pytest.raises(BlockTimeout):
        run_block(
            {"url": loopback_server.url("/slow?seconds=3"), "timeout": 60},
            FakeContext(time_left=0.3),
        )
    with pytest.raises(BlockTimeout, match="no time left"):
        run_block({"url": loopback_server.url("/json")}, FakeContext(time_left=0))


def test_ssrf_rules_apply_to_the_block(loopback_server: LoopbackServer):
    with pytest.raises(BlockRefused, match="private, loopback or reserved"):
        run_block({"url": loopback_server.url("/json")}, FakeContext(allowed_hosts=()))
    assert loopback_server.received == []


def test_the_idempotency_key_is_the_step_runs_and_stable_across_retries(
    loopback_server: LoopbackServer,
):
    ctx = FakeContext(step_run_id=41)
    config = {
        "method": "POST",
        "url": loopback_server.url("/status/503"),
        "headers": {"Idempotency-Key": "from-config"},
    }
    # Two attempts of one StepRun (the engine retries a 5xx): the same key both times.
    for _attempt in range(2):
        with pytest.raises(BlockUpstreamError):
            run_block(config, ctx)
    run_block({"method": "POST", "url": loopback_server.url("/echo")}, FakeContext(step_run_id=42))
    keys = [r.header("Idempotency-Key") for r in loopback_server.received]
    assert keys == ["wf-7-41", "wf-7-41", "wf-7-42"]


def test_side_effects_depend_on_the_method():
    block = HttpBlock()
    assert not block.has_side_effects({"url": "https://x.test"})
    assert not block.has_side_effects({"url": "https://x.test", "method": "head"})
    assert block.has_side_effects({"url": "https://x.test", "method": "POST"})
    assert block.has_side_effects({"url": "https://x.test", "method": "DELETE"})
    assert block.has_side_effects({"url": "https://x.test", "method": "{{ input.method }}"})


@override_settings(INTERNAL_BASE_URL="http://127.0.0.1:8080")
def test_hosts_names_the_host_for_governance():
    block = HttpBlock()
    assert block.hosts({"url": "https://API.Example.com:8443/v1?x={{ input.x }}"}) == [
        "api.example.com"
    ]
    assert block.hosts({"url": "https://user:pw@hooks.example.com/a"}) == ["hooks.example.com"]
    assert block.hosts({"url": "http://[2001:db8::1]:8080/"}) == ["2001:db8::1"]
    assert block.hosts({"url": "https://{{ input.host }}/v1"}) == [DYNAMIC_HOST]
    assert block.hosts({"url": "{{ input.url }}"}) == [DYNAMIC_HOST]
    assert block.hosts({"url": "https://api.{{ vars.region }}.example.com/"}) == [DYNAMIC_HOST]
    # This application's own API is not an outside integration.
    assert block.hosts({"url": "http://127.0.0.1:8080/api/v1/runs"}) == []
    assert block.hosts({"url": "{{ ctx.internal_base_url }}/api/v1/runs"}) == []


def test_the_internal_token_is_sent_to_the_base_and_scrubbed_from_the_output(
    loopback_server: LoopbackServer,
):
    base = f"http://127.0.0.1:{loopback_server.port}"
    token = internal_token_issue(run_id=7, workflow_id=3, ttl=60)
    # What the engine does: resolve the step's templates against ctx, run, scrub, record.
    config = template_render(
        {
            "method": "POST",
            "url": "{{ ctx.internal_base_url }}/echo",
            "headers": {"Authorization": "Bearer {{ ctx.internal_api_token }}"},
            "json": {"goal": 1},
        },
        {
            "input": {},
            "steps": {},
            "vars": {},
            "ctx": {"internal_api_token": token, "internal_base_url": base},
        },
    )
    with override_settings(INTERNAL_BASE_URL=base):
        result = run_block(
            config, FakeContext(is_system=True, allowed_hosts=(), internal_base_url=base)
        )
    received = loopback_server.received[0].header("Authorization")
    assert received == f"Bearer {token}"
    assert internal_token_verify(received.removeprefix("Bearer ")).run_id == 7
    # The echo puts the token in the output; what is recorded has it masked.
    assert token in json.dumps(result.output)
    recorded = secrets_scrub({"input": config, "output": result.output}, [token])
    assert token not in json.dumps(recorded)
    assert recorded["input"]["headers"]["Authorization"] == "Bearer ***"


@pytest.mark.parametrize(
    "placement",
    [
        lambda t: {"url": "{host}/echo", "headers": {"Authorization": f"Bearer {t}"}},
        lambda t: {"url": "{base}/echo", "query": {"token": t}},
        lambda t: {"url": "{base}/echo", "method": "POST", "json": {"token": t}},
        lambda t: {"url": "{base}/echo", "method": "POST", "form": {"token": t}},
        lambda t: {"url": "{base}/echo", "headers": {"X-Api-Key": t}},
    ],
)
def test_the_internal_token_anywhere_else_is_refused(loopback_server: LoopbackServer, placement):
    base = f"http://127.0.0.1:{loopback_server.port}"
    other_host = f"http://localhost:{loopback_server.port}"
    token = internal_token_issue(run_id=7, workflow_id=3, ttl=60)
    config = placement(token)
    config["url"] = config["url"].format(base=base, host=other_host)
    ctx = FakeContext(is_system=True, allowed_hosts=("localhost",), internal_base_url=base)
    with (
        override_settings(INTERNAL_BASE_URL=base),
        pytest.raises(
            BlockRefused,
            match=f"the internal API token may only be sent as Authorization to {base}",
        ) as refused,
    ):
        run_block(config, ctx)
    assert token not in str(refused.value)
    assert loopback_server.received == []


def test_a_user_workflow_cannot_send_an_internal_token(loopback_server: LoopbackServer):
    base = f"http://127.0.0.1:{loopback_server.port}"
    token = internal_token_issue(run_id=7, workflow_id=3, ttl=60)
    with override_settings(INTERNAL_BASE_URL=base), pytest.raises(BlockRefused):
        run_block(
            {"url": f"{base}/echo", "headers": {"Authorization": f"Bearer {token}"}},
            FakeContext(is_system=False, allowed_hosts=("127.0.0.1",), internal_base_url=base),
        )
    assert loopback_server.received == []


def test_a_redirect_from_the_internal_api_is_not_followed(loopback_server: LoopbackServer):
    base = f"http://127.0.0.1:{loopback_server.port}"
    token = internal_token_issue(run_id=7, workflow_id=3, ttl=60)
    with override_settings(INTERNAL_BASE_URL=base), pytest.raises(HttpStatusError, match="302"):
        run_block(
            {"url": f"{base}/redirect?to=/echo", "headers": {"Authorization": f"Bearer {token}"}},
            FakeContext(is_system=True, allowed_hosts=(), internal_base_url=base),
        )
    assert loopback_server.paths() == ["/redirect"]


@override_settings(INTERNAL_BASE_URL="http://127.0.0.1:8080")
def test_a_misplaced_token_template_is_a_problem_at_save_time():
    block = HttpBlock()
    assert (
        block.config_problems(
            {
                "url": "http://127.0.0.1:8080/api",
                "headers": {"Authorization": "Bearer {{ ctx.internal_api_token }}"},
            }
        )
        == []
    )
    problems = block.config_problems(
        {
            "url": "http://127.0.0.1:8080/api",
            "query": {"t": "{{ctx.internal_api_token}}"},
            "json": {"a": ["{{ ctx.internal_api_token }}"]},
        }
    )
    assert [where for where, _ in problems] == ["query.t", "json.a.0"]
    assert all("only be sent as Authorization to http://127.0.0.1:8080" in m for _, m in problems)


def test_an_error_message_never_quotes_the_token(loopback_server: LoopbackServer):
    base = f"http://127.0.0.1:{loopback_server.port}"
    token = internal_token_issue(run_id=7, workflow_id=3, ttl=60)
    # The far side quotes the credential in its error body; the message is scrubbed.
    with override_settings(INTERNAL_BASE_URL=base), pytest.raises(HttpStatusError) as caught:
        run_block(
            {"url": f"{base}/whoami", "headers": {"Authorization": f"Bearer {token}"}},
            FakeContext(is_system=True, allowed_hosts=(), internal_base_url=base),
        )
    assert caught.value.status == 401
    assert '"authorization": "Bearer ***"' in str(caught.value)
    assert token not in str(caught.value)


def test_the_validator_lets_a_get_retry_but_not_a_post_unless_idempotent():
    def document(method: str, idempotent: bool) -> dict[str, Any]:
        return {
            "name": "Fetch",
            "steps": [
                {
                    "name": "call",
                    "block": "http",
                    "config": {"method": method, "url": "https://api.example.com/v1"},
                    "retry": {"attempts": 3},
                    "idempotent": idempotent,
                }
            ],
            "edges": [],
        }

    assert graph_validate(document("GET", False)) == []
    assert graph_validate(document("POST", True)) == []
    problems = graph_validate(document("POST", False))
    assert [(p["code"], p["path"]) for p in problems] == [("SCHEMA", "steps.0.retry.attempts")]


# -- the bulk effect the author declares (governance asks past the policy's lines) -----


def test_a_declared_effect_counts_a_number_or_a_list():
    block = HttpBlock()
    url = "https://mail.test/batch?token=abc"
    assert block.effect({"url": url}, {}) is None
    sent = block.effect({"method": "post", "url": url, "effect": {"kind": "send", "count": 3}}, {})
    assert sent is not None and (sent.kind, sent.count) == ("send", 3)
    assert sent.what.startswith("POST https://mail.test/batch")
    gone = block.effect(
        {"url": url, "effect": {"kind": "delete", "count": [1, 2], "what": "purge"}}, {}
    )
    assert gone is not None and (gone.kind, gone.count, gone.what) == ("delete", 2, "purge")


@pytest.mark.parametrize("count", ["500", -1, True, {"n": 1}, None])
def test_an_effect_that_cannot_be_counted_is_a_config_error(count: Any):
    with pytest.raises(BlockConfigError, match=r"effect\.count"):
        HttpBlock().effect(
            {"url": "https://x.test", "effect": {"kind": "send", "count": count}}, {}
        )


def test_the_config_schema_takes_an_effect_with_a_template_count():
    schema = HttpBlock.config_schema
    ok = {"url": "https://x.test", "effect": {"kind": "send", "count": "{{ input.to }}"}}
    assert not schema_errors(ok, schema)
    assert schema_errors({"url": "https://x.test", "effect": {"kind": "mail", "count": 1}}, schema)
    assert schema_errors(
        {"url": "https://x.test", "effect": {"kind": "send", "count": "x"}}, schema
    )
