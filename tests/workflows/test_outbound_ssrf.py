"""HardenedHTTP: SSRF attempts are refused on every hop, allowed hosts work, caps hold.

Everything runs against a real HTTP server on loopback. A "public" host name that
resolves to loopback is made with ``dns_pin`` (``socket.getaddrinfo`` patched, the
resolver requests-hardened checks through), no /etc/hosts needed.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.test import override_settings

from tests.workflows.loopback_http import LoopbackServer, dns_pin
from workflows.blocks.base import BlockConfigError, BlockRefused, BlockTimeout, BlockUpstreamError
from workflows.internal_token import internal_token_issue
from workflows.outbound import MAX_REDIRECTS, HardenedHTTP, http_provide

KEY = "wf-7-41"


def client(
    *allowed: str, is_system: bool = False, base: str = "http://127.0.0.1:9"
) -> HardenedHTTP:
    return HardenedHTTP(
        idempotency_key=KEY,
        is_system=is_system,
        allowed_hosts=list(allowed),
        internal_base_url=base,
    )


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "localhost",
        "[::1]",
        "[::ffff:127.0.0.1]",
        "2130706433",  # 127.0.0.1 as one decimal number
        "0177.0.0.1",  # octal
        "0x7f.0.0.1",  # hexadecimal
        "0.0.0.0",
    ],
)
def test_it_refuses_loopback_in_every_spelling(loopback_server: LoopbackServer, host: str):
    with pytest.raises(BlockRefused, match="private, loopback or reserved"):
        client().request("GET", loopback_server.url("/json", host=host))
    assert loopback_server.received == []


@pytest.mark.parametrize(
    "url",
    [
        "http://10.1.2.3/",
        "http://172.16.0.1/",
        "http://192.168.1.1/",
        "http://169.254.169.254/latest/meta-data/",  # cloud metadata
        "http://100.64.0.1/",  # carrier-grade NAT
        "http://[fd00::1]/",  # IPv6 unique local
        "http://[fe80::1]/",  # IPv6 link-local
        "https://10.0.0.1/",
    ],
)
def test_it_refuses_private_and_link_local_ranges(url: str):
    with pytest.raises(BlockRefused, match="private, loopback or reserved"):
        client().request("GET", url, timeout=2)


def test_it_refuses_a_public_looking_name_that_resolves_to_loopback(
    loopback_server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
):
    dns_pin(monkeypatch, {"api.innocent.example": "127.0.0.1"})
    with pytest.raises(BlockRefused, match="private, loopback or reserved"):
        client().request("GET", loopback_server.url("/json", host="api.innocent.example"))
    assert loopback_server.received == []


def test_an_allowed_host_is_reached_even_on_loopback(loopback_server: LoopbackServer):
    response = client("127.0.0.1").request("GET", loopback_server.url("/json"))
    assert response.status == 200
    assert response.body == b'{"ok": true, "items": [1, 2]}'
    assert loopback_server.paths() == ["/json"]


def test_allowed_hosts_match_exactly_not_by_suffix_or_spelling(
    loopback_server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
):
    dns_pin(monkeypatch, {"evil-localhost": "127.0.0.1", "sub.localhost": "127.0.0.1"})
    for host in ("2130706433", "evil-localhost", "sub.localhost", "127.0.0.2"):
        with pytest.raises(BlockRefused):
            client("127.0.0.1", "localhost").request("GET", loopback_server.url("/json", host=host))
    assert loopback_server.received == []


def test_an_allowed_name_keeps_its_host_header(
    loopback_server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
):
    dns_pin(monkeypatch, {"intranet.example": "127.0.0.1"})
    response = client("intranet.example").request(
        "GET", loopback_server.url("/echo", host="intranet.example")
    )
    assert response.status == 200
    assert loopback_server.received[0].header("Host") == f"intranet.example:{loopback_server.port}"


def test_a_redirect_from_an_allowed_host_to_loopback_is_refused(loopback_server: LoopbackServer):
    target = loopback_server.url("/json", host="localhost")
    with pytest.raises(BlockRefused, match="private, loopback or reserved"):
        client("127.0.0.1").request("GET", loopback_server.url(f"/redirect?to={target}"))
    # The redirect was answered; its target never asked.
    assert loopback_server.paths() == ["/redirect"]


@pytest.mark.parametrize("target", ["http://169.254.169.254/", "http://[::ffff:10.0.0.1]/"])
def test_a_redirect_to_a_private_address_is_refused(loopback_server: LoopbackServer, target: str):
    with pytest.raises(BlockRefused):
        client("127.0.0.1").request("GET", loopback_server.url(f"/redirect?to={target}"))


def test_a_redirect_to_a_public_name_resolving_to_loopback_is_refused(
    loopback_server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
):
    dns_pin(monkeypatch, {"cdn.innocent.example": "127.0.0.1"})
    target = loopback_server.url("/json", host="cdn.innocent.example")
    with pytest.raises(BlockRefused):
        client("127.0.0.1").request("GET", loopback_server.url(f"/redirect?to={target}"))
    assert loopback_server.paths() == ["/redirect"]


def test_redirects_within_allowed_hosts_are_followed_with_the_idempotency_key(
    loopback_server: LoopbackServer,
):
    response = client("127.0.0.1").request(
        "GET", loopback_server.url("/redirect?to=/echo%3Fa%3D1"), headers={"X-Trace": "t1"}
    )
    assert response.status == 200
    assert loopback_server.paths() == ["/redirect", "/echo"]
    assert [r.header("Idempotency-Key") for r in loopback_server.received] == [KEY, KEY]


def test_more_than_five_redirects_are_refused(loopback_server: LoopbackServer):
    with pytest.raises(BlockRefused, match=f"more than {MAX_REDIRECTS} redirects"):
        client("127.0.0.1").request("GET", loopback_server.url("/loop/0"))
    assert len(loopback_server.received) == MAX_REDIRECTS + 1


def test_authorization_is_dropped_when_a_redirect_leaves_the_origin(
    loopback_server: LoopbackServer,
):
    target = loopback_server.url("/echo", host="localhost")
    client("127.0.0.1", "localhost").request(
        "GET",
        loopback_server.url(f"/redirect?to={target}"),
        headers={"Authorization": "Bearer partner-secret", "Cookie": "s=1"},
    )
    first, second = loopback_server.received
    assert first.header("Authorization") == "Bearer partner-secret"
    assert second.header("Authorization") is None
    assert second.header("Cookie") is None
    assert second.header("Idempotency-Key") == KEY


def test_a_post_redirected_by_303_becomes_a_get_without_body(loopback_server: LoopbackServer):
    client("127.0.0.1").request(
        "POST", loopback_server.url("/redirect?code=303&to=/echo"), json_body={"a": 1}
    )
    first, second = loopback_server.received
    assert (first.method, first.body) == ("POST", b'{"a": 1}')
    assert (second.method, second.body) == ("GET", b"")


def test_the_response_is_refused_beyond_the_cap_naming_it(loopback_server: LoopbackServer):
    http = client("127.0.0.1")
    assert len(http.request("GET", loopback_server.url("/big?size=1000"), max_bytes=1000).body) == (
        1000
    )
    with pytest.raises(BlockRefused, match="over the cap of 1000 bytes"):
        http.request("GET", loopback_server.url("/big?size=1001"), max_bytes=1000)


def test_the_cap_holds_without_a_content_length(loopback_server: LoopbackServer):
    with pytest.raises(BlockRefused, match="over the cap of 100000 bytes"):
        client("127.0.0.1").request(
            "GET", loopback_server.url("/big?size=5000000&chunked=1"), max_bytes=100_000
        )


def test_every_request_carries_the_step_runs_idempotency_key(loopback_server: LoopbackServer):
    http = client("127.0.0.1")
    # A key set by the config cannot replace the StepRun's: retries must match.
    http.request("POST", loopback_server.url("/echo"), headers={"idempotency-key": "mine"})
    http.request("POST", loopback_server.url("/echo"))
    assert [r.header("Idempotency-Key") for r in loopback_server.received] == [KEY, KEY]
    assert all(
        [k.lower() for k in r.headers].count("idempotency-key") == 1
        for r in loopback_server.received
    )


def test_a_slow_answer_is_a_timeout(loopback_server: LoopbackServer):
    with pytest.raises(BlockTimeout):
        client("127.0.0.1").request("GET", loopback_server.url("/slow?seconds=3"), timeout=0.3)


def test_a_closed_port_is_an_upstream_error(loopback_server: LoopbackServer):
    port = loopback_server.port
    loopback_server.server_close()
    with pytest.raises(BlockUpstreamError) as caught:
        client("127.0.0.1").request("GET", f"http://127.0.0.1:{port}/json", timeout=2)
    assert caught.value.retryable


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "gopher://127.0.0.1/", "ftp://example.com/", "http:///nohost"]
)
def test_only_http_urls_with_a_host_are_called(url: str):
    with pytest.raises(BlockConfigError):
        client().request("GET", url)


def test_credentials_never_reach_an_error_message():
    with pytest.raises(BlockRefused) as refused:
        client().request("GET", "http://user:s3cretpw@10.0.0.1/?api_key=k3yvalue")
    assert "s3cretpw" not in str(refused.value)
    assert "k3yvalue" not in str(refused.value)


def test_the_internal_api_is_reached_by_system_workflows_without_redirects(
    loopback_server: LoopbackServer,
):
    base = f"http://127.0.0.1:{loopback_server.port}"
    token = internal_token_issue(run_id=3, workflow_id=4, ttl=60)
    response = client(is_system=True, base=base).request(
        "GET",
        f"{base}/redirect?to=/echo",
        headers={"Authorization": f"Bearer {token}"},
    )
    # The redirect is handed back, not followed: the token goes to one URL only.
    assert response.status == 302
    assert loopback_server.paths() == ["/redirect"]
    assert loopback_server.received[0].header("Authorization") == f"Bearer {token}"


def test_the_internal_base_is_loopback_like_any_other_for_user_workflows(
    loopback_server: LoopbackServer,
):
    base = f"http://127.0.0.1:{loopback_server.port}"
    with pytest.raises(BlockRefused):
        client(is_system=False, base=base).request("GET", f"{base}/echo")
    assert loopback_server.received == []


def test_the_internal_token_never_leaves_for_another_host(loopback_server: LoopbackServer):
    token = internal_token_issue(run_id=3, workflow_id=4, ttl=60)
    with pytest.raises(BlockRefused, match="may only be sent as Authorization to") as refused:
        client("127.0.0.1", is_system=True, base="http://127.0.0.1:9").request(
            "GET", loopback_server.url("/echo"), headers={"Authorization": f"Bearer {token}"}
        )
    assert token not in str(refused.value)
    assert loopback_server.received == []


def test_the_engine_provider_makes_a_client_per_step_run(loopback_server: LoopbackServer):
    http = http_provide(SimpleNamespace(idempotency_key="wf-9-99", is_system=False))
    assert isinstance(http, HardenedHTTP)
    with override_settings(HTTP_ALLOWED_HOSTS=["127.0.0.1"]):
        HardenedHTTP(idempotency_key="wf-9-99").request("GET", loopback_server.url("/json"))
    # The provider's client obeys the settings it was made under: loopback is refused.
    with pytest.raises(BlockRefused):
        http.request("GET", loopback_server.url("/json"))
    assert [r.header("Idempotency-Key") for r in loopback_server.received] == ["wf-9-99"]
