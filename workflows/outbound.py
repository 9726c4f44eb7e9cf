"""Outbound HTTP for workflow steps: SSRF rules, size caps, idempotency keys, no leaks.

``HardenedHTTP`` is the engine's ``OutboundHTTP``. It sends through
``requests-hardened``: each connection's host name is resolved once and the connection
is made to that very address (pinned, so a DNS answer cannot change between the check
and the connect), and private, loopback, link-local, multicast and reserved addresses
are refused. Resolution goes through the system resolver, which also reads the odd
spellings of an address (``2130706433``, ``0177.0.0.1``, ``[::ffff:127.0.0.1]``), so
they are refused as what they resolve to.

Redirects are followed here, by hand, at most ``MAX_REDIRECTS`` hops, so every hop is
checked by the same adapter, a redirect's body is never read, and ``Authorization`` is
dropped when a hop leaves the origin. A host listed in ``BIZAGENT_HTTP_ALLOWED_HOSTS``
(exact match) skips the address check, on the hop that names it only: a redirect from
an allowed host to anywhere else is checked again.

System workflows may reach ``BIZAGENT_INTERNAL_BASE_URL`` (this application's own API,
usually on loopback) with redirects off; the internal token travels only there, only as
``Authorization`` (``workflows.internal_token``).

Every request carries ``Idempotency-Key`` (the StepRun's, stable across attempts). The
response is streamed and refused beyond ``max_bytes``. Error messages quote URLs
redacted and never a header value.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from collections.abc import Iterable
from typing import Any, Protocol
from urllib.parse import urljoin, urlsplit

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from requests_hardened import Config, HTTPSession
from requests_hardened.ip_filter import InvalidIPAddress
from requests_hardened.ip_filter_adapter import IPFilterAdapter

from bizagent.redact import text_redact, url_redact
from workflows.blocks.base import (
    BlockConfigError,
    BlockRefused,
    BlockTimeout,
    BlockUpstreamError,
    HttpResponse,
)
from workflows.internal_token import (
    internal_token_misplaced,
    secrets_scrub,
    tokens_in,
    url_under_base,
)

logger = logging.getLogger(__name__)

MAX_REDIRECTS = 5
REDIRECT_STATUSES = (301, 302, 303, 307, 308)
#: Headers that must not follow a redirect to another origin.
ORIGIN_BOUND_HEADERS = ("authorization", "cookie", "proxy-authorization")
CHUNK_BYTES = 64 * 1024


class _HostRulesAdapter(IPFilterAdapter):
    """requests-hardened's pinning filter, skipped for the hosts this client exempts.

    Decided per connection, so each redirect hop is judged by the host it names.
    """

    def __init__(self, *, is_https_proto: bool, exempt: frozenset[str]) -> None:
        super().__init__(is_https_proto=is_https_proto, allow_loopback=False)
        self._exempt = exempt

    def build_connection_pool_key_attributes(
        self,
        request: requests.PreparedRequest,
        verify: bool | str,
        cert: str | tuple[str, str] | None = None,
    ) -> Any:
        host = (urlsplit(request.url).hostname or "").lower()
        if host in self._exempt:
            return HTTPAdapter.build_connection_pool_key_attributes(self, request, verify, cert)
        return super().build_connection_pool_key_attributes(request, verify, cert)


def _address_public(host: str) -> bool:
    """False for an IP literal that is not a public address; True for names (checked later)."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return True
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def _host_port(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme.lower(), (parts.hostname or "").lower(), parts.port


class HardenedHTTP:
    """The ``OutboundHTTP`` a step gets: one per StepRun (it carries its idempotency key).

    ``is_system``: the step belongs to a system workflow, which may also reach the
    internal base URL. ``allowed_hosts`` and ``internal_base_url`` default to the
    settings.
    """

    def __init__(
        self,
        *,
        idempotency_key: str,
        is_system: bool = False,
        allowed_hosts: Iterable[str] | None = None,
        internal_base_url: str | None = None,
    ) -> None:
        self.idempotency_key = idempotency_key
        self.is_system = is_system
        hosts = settings.HTTP_ALLOWED_HOSTS if allowed_hosts is None else allowed_hosts
        self.allowed_hosts = frozenset(h.lower().strip("[]") for h in hosts)
        self.internal_base_url = (internal_base_url or settings.INTERNAL_BASE_URL).rstrip("/")

    # -- the OutboundHTTP protocol ------------------------------------------------------
    def request(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        params: dict[str, Any] | None = None,
        json_body: Any = None,
        form_body: dict[str, Any] | None = None,
        timeout: float = 30.0,
        max_bytes: int = 1_000_000,
    ) -> HttpResponse:
        """Send one request (following checked redirects) and read at most ``max_bytes``.

        Raises ``BlockRefused`` (SSRF rule, size cap, internal token misplaced, too many
        redirects), ``BlockTimeout``, ``BlockUpstreamError`` (connection failures) or
        ``BlockConfigError`` (a URL that cannot be sent). HTTP error statuses are
        returned, not raised: what counts as success is the caller's business.
        """
        method = method.upper()
        # The StepRun's key wins over one a config may have set: retries must match.
        headers = {k: v for k, v in (headers or {}).items() if k.lower() != "idempotency-key"}
        headers["Idempotency-Key"] = self.idempotency_key
        misplaced = internal_token_misplaced(
            url=url,
            headers=headers,
            params=params,
            json_body=json_body,
            form_body=form_body,
            base_url=self.internal_base_url,
        )
        if misplaced:
            raise BlockRefused(misplaced)
        internal = self.is_system and url_under_base(url, self.internal_base_url)
        carries_token = bool(tokens_in(headers))
        if carries_token and not self.is_system:
            raise BlockRefused("only system workflows may send the internal API token")
        exempt = self._exempt_hosts(internal=internal)
        self._check_url(url, exempt=exempt)
        deadline = time.monotonic() + timeout
        session = self._session(exempt=exempt)
        try:
            response = self._send_following(
                session,
                method,
                url,
                headers=headers,
                params=params,
                json_body=json_body,
                form_body=form_body,
                deadline=deadline,
                # The token's rule: redirects off, whatever the far side answers.
                follow=not (internal or carries_token),
                exempt=exempt,
            )
            try:
                body = self._read_capped(response, max_bytes=max_bytes, deadline=deadline)
            finally:
                response.close()
        finally:
            session.close()
        return HttpResponse(
            status=response.status_code,
            headers={k: v for k, v in response.headers.items()},
            body=body,
            url=url_redact(response.url),
        )

    # -- internals ----------------------------------------------------------------------
    def _exempt_hosts(self, *, internal: bool) -> frozenset[str]:
        """Hosts whose address is not checked: the allowed ones, and the internal API's."""
        if internal:
            return self.allowed_hosts | {_host_port(self.internal_base_url)[1]}
        return self.allowed_hosts

    def _session(self, *, exempt: frozenset[str]) -> HTTPSession:
        session = HTTPSession(
            Config(
                ip_filter_enable=True,
                ip_filter_allow_loopback_ips=False,
                never_redirect=True,
                default_timeout=(30, 30),
            )
        )
        for prefix, https in (("http://", False), ("https://", True)):
            session.mount(prefix, _HostRulesAdapter(is_https_proto=https, exempt=exempt))
        # No proxies or .netrc from the environment: a proxy would connect for us (the
        # address check would judge the proxy, not the target) and .netrc could add
        # credentials nobody put in the step.
        session.trust_env = False
        return session

    def _check_url(self, url: str, *, exempt: frozenset[str]) -> None:
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 - raises ValueError on a bad port
        except ValueError:
            raise BlockConfigError(f"not a valid URL: {url_redact(url)}") from None
        if parts.scheme.lower() not in ("http", "https"):
            raise BlockConfigError(f"only http and https URLs can be called, got {url_redact(url)}")
        if not parts.hostname:
            raise BlockConfigError(f"the URL names no host: {url_redact(url)}")
        # An address written out is judged before any lookup too: a machine without
        # IPv6 would otherwise answer ``[::1]`` with a resolver error, not a refusal.
        host = parts.hostname.lower()
        if host not in exempt and not _address_public(host):
            raise BlockRefused(
                f"refused to call {url_redact(url)}: {host} is a private, loopback or reserved "
                "address; add the host to BIZAGENT_HTTP_ALLOWED_HOSTS if it is trusted"
            )

    def _send_following(
        self,
        session: HTTPSession,
        method: str,
        url: str,
        *,
        headers: dict[str, str],
        params: dict[str, Any] | None,
        json_body: Any,
        form_body: dict[str, Any] | None,
        deadline: float,
        follow: bool,
        exempt: frozenset[str],
    ) -> requests.Response:
        hops = 0
        while True:
            response = self._send_one(
                session,
                method,
                url,
                headers=headers,
                params=params,
                json_body=json_body,
                form_body=form_body,
                deadline=deadline,
            )
            location = response.headers.get("Location")
            if not follow or response.status_code not in REDIRECT_STATUSES or not location:
                return response
            response.close()  # a redirect's body is never read
            hops += 1
            if hops > MAX_REDIRECTS:
                raise BlockRefused(f"more than {MAX_REDIRECTS} redirects, from {url_redact(url)}")
            target = urljoin(response.url, location)
            self._check_url(target, exempt=exempt)
            if _host_port(target) != _host_port(response.url):
                headers = {
                    k: v for k, v in headers.items() if k.lower() not in ORIGIN_BOUND_HEADERS
                }
            # As browsers do: 303 (and 301/302 after a POST) become a GET without a body;
            # 307/308 repeat the request as it was.
            if (response.status_code == 303 and method != "HEAD") or (
                response.status_code in (301, 302) and method == "POST"
            ):
                method, json_body, form_body = "GET", None, None
                headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
            # The query of the first request is part of ``url`` from now on.
            url, params = target, None

    def _send_one(
        self,
        session: HTTPSession,
        method: str,
        url: str,
        *,
        headers: dict[str, str],
        params: dict[str, Any] | None,
        json_body: Any,
        form_body: dict[str, Any] | None,
        deadline: float,
    ) -> requests.Response:
        left = deadline - time.monotonic()
        if left <= 0:
            raise BlockTimeout(f"no time left to call {url_redact(url)}")
        shown = url_redact(url)
        try:
            return session.request(
                method,
                url,
                headers=headers,
                params=params,
                json=json_body,
                data=form_body,
                timeout=(left, left),
                allow_redirects=False,
                stream=True,
            )
        except InvalidIPAddress as exc:
            raise BlockRefused(
                f"refused to call {shown}: it resolves to a private, loopback or reserved "
                f"address ({exc}); add the host to BIZAGENT_HTTP_ALLOWED_HOSTS if it is trusted"
            ) from None
        except requests.Timeout:
            raise BlockTimeout(f"{method} {shown} timed out") from None
        except (requests.exceptions.InvalidURL, requests.exceptions.InvalidSchema) as exc:
            raise BlockConfigError(f"cannot call {shown}: {self._safe(exc)}") from None
        except requests.ConnectionError as exc:
            raise BlockUpstreamError(f"{method} {shown} failed: {self._safe(exc)}") from None
        except requests.RequestException as exc:
            raise BlockUpstreamError(f"{method} {shown} failed: {self._safe(exc)}") from None

    def _read_capped(
        self, response: requests.Response, *, max_bytes: int, deadline: float
    ) -> bytes:
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > max_bytes:
            raise BlockRefused(
                f"the response is {int(declared)} bytes, over the cap of {max_bytes} bytes"
            )
        chunks: list[bytes] = []
        size = 0
        try:
            for chunk in response.iter_content(CHUNK_BYTES):
                size += len(chunk)
                if size > max_bytes:
                    raise BlockRefused(f"the response is over the cap of {max_bytes} bytes")
                if time.monotonic() > deadline:
                    raise BlockTimeout("reading the response took longer than the timeout")
                chunks.append(chunk)
        except requests.Timeout:
            raise BlockTimeout("reading the response timed out") from None
        except requests.RequestException as exc:
            raise BlockUpstreamError(f"reading the response failed: {self._safe(exc)}") from None
        return b"".join(chunks)

    def _safe(self, exc: BaseException) -> str:
        """An exception's text with URLs redacted and no header value (they are not quoted)."""
        return secrets_scrub(text_redact(str(exc)))[:300]


class _StepContext(Protocol):
    idempotency_key: str
    is_system: bool


def http_provide(ctx: _StepContext) -> HardenedHTTP:
    """The engine's ``http`` provider: one client per StepRun, carrying its key."""
    return HardenedHTTP(idempotency_key=ctx.idempotency_key, is_system=ctx.is_system)
