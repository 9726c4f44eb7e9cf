"""``http``: call an outside HTTP API (or, from a system workflow, this application's own).

The block shapes the request and judges the answer; ``ctx.http`` (``workflows.outbound``)
sends it under the SSRF rules, the size cap and the step's ``Idempotency-Key``. A GET or
HEAD has no side effects; any other method has, so the engine retries it only when the
step is declared idempotent.

Output: ``{"status", "headers" (a safe subset), "json" (the parsed body if it is JSON,
else null), "text" (the body otherwise, cut to ``TEXT_CHARS``; null for JSON)}``. A
status outside ``expect`` (default 2xx) is an error: 5xx ``upstream`` (retryable),
anything else ``http_status`` naming the status.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

from django.conf import settings

from bizagent.llm.structured import schema_errors
from bizagent.redact import text_redact
from workflows.blocks.base import (
    Block,
    BlockConfigError,
    BlockContext,
    BlockError,
    BlockRefused,
    BlockResult,
    BlockTimeout,
    BlockUpstreamError,
    Effect,
    HttpResponse,
    block_register,
)
from workflows.internal_token import (
    internal_token_misplaced,
    secrets_scrub,
    tokens_in,
    url_under_base,
)

METHODS = ("GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE")
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
MAX_TIMEOUT_SECONDS = 120
DEFAULT_TIMEOUT_SECONDS = 30
DEFAULT_MAX_BYTES = 1_000_000
MAX_MAX_BYTES = 10_000_000
#: How much of a non-JSON body reaches the output (and so the run's stored rows).
TEXT_CHARS = 100_000
#: How much of an error answer's body an error message quotes.
ERROR_BODY_CHARS = 200
#: Response headers worth passing on; cookies, auth challenges and the rest stay out.
SAFE_RESPONSE_HEADERS = frozenset(
    {
        "cache-control",
        "content-language",
        "content-length",
        "content-type",
        "date",
        "etag",
        "last-modified",
        "link",
        "location",
        "retry-after",
        "x-request-id",
    }
)
SAFE_RESPONSE_HEADER_PREFIXES = ("ratelimit-", "x-ratelimit-")
#: A host only known at run time (a template in the URL's host part), for governance.
DYNAMIC_HOST = "*"

_SCALAR = {"type": ["string", "number", "boolean"]}


class HttpStatusError(BlockError):
    """The far side answered a status the step does not expect (and not a 5xx)."""

    error_class = "http_status"

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


@block_register
class HttpBlock(Block):
    slug = "http"
    name = "HTTP request"
    category = "integration"
    description = (
        "Call an HTTP API: method, URL, headers, query, a JSON or form body. Private and "
        "loopback addresses are refused unless the host is allowed; the response is capped."
    )
    config_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "required": ["url"],
        "additionalProperties": False,
        "properties": {
            "method": {"type": "string", "enum": list(METHODS), "default": "GET"},
            "url": {"type": "string", "minLength": 1},
            "headers": {"type": "object", "additionalProperties": {"type": "string"}},
            "query": {"type": "object", "additionalProperties": _SCALAR},
            "json": {},
            "form": {"type": "object", "additionalProperties": _SCALAR},
            "timeout": {
                "type": "number",
                "exclusiveMinimum": 0,
                "maximum": MAX_TIMEOUT_SECONDS,
                "default": DEFAULT_TIMEOUT_SECONDS,
            },
            "max_bytes": {
                "type": "integer",
                "minimum": 1,
                "maximum": MAX_MAX_BYTES,
                "default": DEFAULT_MAX_BYTES,
            },
            "cost": {"type": "number", "minimum": 0},
            "expect": {
                "type": "array",
                "minItems": 1,
                "items": {"type": "integer", "minimum": 100, "maximum": 599},
            },
            "effect": {
                "type": "object",
                "description": (
                    "What one call does in bulk, stated by the workflow's author (the engine "
                    "cannot tell from a URL): kind send (count = recipients) or delete "
                    "(count = records). count is a whole number, or a template resolving to "
                    "one or to a list (its length counts). Past the policy's lines "
                    "(500 recipients, 100 records by default) the step waits for a person."
                ),
                "required": ["kind", "count"],
                "additionalProperties": False,
                "properties": {
                    "kind": {"type": "string", "enum": ["send", "delete"]},
                    "count": {
                        "anyOf": [
                            {"type": "integer", "minimum": 0},
                            {"type": "array"},
                            {"type": "string", "pattern": r"^\s*\{\{.*\}\}\s*$"},
                        ]
                    },
                    "what": {"type": "string", "maxLength": 200},
                },
            },
        },
    }
    input_schema: ClassVar[dict[str, Any]] = {"type": "object"}
    output_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "status": {"type": "integer"},
            "headers": {"type": "object", "additionalProperties": {"type": "string"}},
            "json": {},
            "text": {"type": ["string", "null"]},
        },
        "required": ["status", "headers", "json", "text"],
    }
    # In the catalogue: it may have side effects; per step, ``has_side_effects`` decides.
    side_effects = True
    can_be_tool = True

    def has_side_effects(self, config: dict[str, Any]) -> bool:
        method = config.get("method", "GET")
        # A templated method could be anything: count it as changing something.
        return not (isinstance(method, str) and method.upper() in SAFE_METHODS)

    def hosts(self, config: dict[str, Any]) -> list[str]:
        """The host the step calls, lower-cased; ``"*"`` if a template decides it.

        Calls to the internal base URL are this application's own API, not an outside
        integration, and are left out.
        """
        url = config.get("url")
        if not isinstance(url, str) or not url:
            return []
        if re.match(r"\{\{\s*ctx\.internal_base_url\s*\}\}", url):
            return []
        authority = re.sub(r"^[A-Za-z][A-Za-z0-9+.\-]*://", "", url)
        authority = re.split(r"[/?#]", authority, maxsplit=1)[0]
        if "{{" in url.split("://", 1)[0] or "{{" in authority:
            return [DYNAMIC_HOST]
        if url_under_base(url, settings.INTERNAL_BASE_URL):
            return []
        host = authority.rpartition("@")[2]
        if host.startswith("["):
            host = host[1 : host.find("]")] if "]" in host else host[1:]
        else:
            host = host.split(":", 1)[0]
        return [host.lower()] if host else []

    def effect(self, config: dict[str, Any], input: dict[str, Any]) -> Effect | None:
        """The bulk effect the author declared in ``effect`` (templates resolved)."""
        declared = config.get("effect")
        if declared is None:
            return None
        if not isinstance(declared, dict) or declared.get("kind") not in ("send", "delete"):
            raise BlockConfigError("effect must be {kind: send|delete, count: ...}")
        count = declared.get("count")
        if isinstance(count, list):
            count = len(count)
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            shown = secrets_scrub(text_redact(repr(count)))[:80]
            raise BlockConfigError(
                f"effect.count must resolve to a whole number or a list, got {shown}"
            )
        what = declared.get("what")
        if not isinstance(what, str) or not what.strip():
            what = f"{str(config.get('method', 'GET')).upper()} {config.get('url', '')}"
        what = secrets_scrub(text_redact(what))[:200]
        return Effect(kind=declared["kind"], count=count, what=what)

    def config_problems(self, config: dict[str, Any]) -> list[tuple[str, str]]:
        problems: list[tuple[str, str]] = []
        if "json" in config and "form" in config:
            problems.append(("form", "give either a json or a form body, not both"))
        # Where the internal token may be put is known at save time from the templates.
        for where, text in _strings(config):
            if "ctx.internal_api_token" in text.replace(" ", "") and where.lower() != (
                "headers.authorization"
            ):
                problems.append(
                    (
                        where,
                        "the internal API token may only be sent as Authorization to "
                        f"{settings.INTERNAL_BASE_URL}",
                    )
                )
        return problems

    def run(
        self, *, config: dict[str, Any], input: dict[str, Any], ctx: BlockContext
    ) -> BlockResult:
        config = {key: value for key, value in config.items()}
        if isinstance(config.get("method"), str):
            config["method"] = config["method"].upper()
        # Templates were substituted after the save-time check: check the values again.
        errors = schema_errors(config, self.config_schema)
        if errors:
            raise BlockConfigError("; ".join(secrets_scrub(text_redact(e)) for e in errors[:5]))
        problems = self.config_problems(config)
        if problems:
            raise BlockConfigError("; ".join(f"{where}: {message}" for where, message in problems))
        method: str = config.get("method", "GET")
        url: str = config["url"]
        headers = {str(k): str(v) for k, v in (config.get("headers") or {}).items()}
        query = config.get("query")
        base = settings.INTERNAL_BASE_URL
        misplaced = internal_token_misplaced(
            url=url,
            headers=headers,
            params=query,
            json_body=config.get("json"),
            form_body=config.get("form"),
            base_url=base,
        )
        if misplaced:
            raise BlockRefused(misplaced)
        if tokens_in(headers) and not ctx.is_system:
            raise BlockRefused("only system workflows may send the internal API token")
        headers["Idempotency-Key"] = ctx.idempotency_key
        timeout = min(float(config.get("timeout", DEFAULT_TIMEOUT_SECONDS)), ctx.seconds_left())
        if timeout <= 0:
            raise BlockTimeout("the step has no time left for the request")
        response = ctx.http.request(
            method,
            url,
            headers=headers,
            params=query,
            json_body=config.get("json"),
            form_body=config.get("form"),
            timeout=timeout,
            max_bytes=int(config.get("max_bytes", DEFAULT_MAX_BYTES)),
        )
        self._judge(response, method=method, expect=config.get("expect"))
        return BlockResult(output=_output(response), cost=_cost(config.get("cost")))

    def _judge(self, response: HttpResponse, *, method: str, expect: list[int] | None) -> None:
        status = response.status
        if (status in expect) if expect else (200 <= status < 300):
            return
        snippet = secrets_scrub(text_redact(response.text()[:ERROR_BODY_CHARS]))
        said = f": {snippet}" if snippet.strip() else ""
        message = secrets_scrub(text_redact(f"{method} {response.url} answered {status}{said}"))
        if status >= 500:
            raise BlockUpstreamError(message)
        raise HttpStatusError(message, status=status)


def _strings(value: Any, where: str = "") -> list[tuple[str, str]]:
    if isinstance(value, str):
        return [(where, value)]
    out: list[tuple[str, str]] = []
    if isinstance(value, dict):
        for key, inner in value.items():
            out += _strings(inner, f"{where}.{key}" if where else str(key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            out += _strings(inner, f"{where}.{index}" if where else str(index))
    return out


def _safe_headers(headers: dict[str, str]) -> dict[str, str]:
    out = {}
    for name, value in headers.items():
        lowered = name.lower()
        if lowered in SAFE_RESPONSE_HEADERS or lowered.startswith(SAFE_RESPONSE_HEADER_PREFIXES):
            out[lowered] = text_redact(value) if lowered == "location" else value
    return out


def _output(response: HttpResponse) -> dict[str, Any]:
    content_type = next(
        (v for k, v in response.headers.items() if k.lower() == "content-type"), ""
    ).lower()
    parsed: Any = None
    is_json = False
    if "json" in content_type.split(";", 1)[0] and response.body:
        try:
            parsed = json.loads(response.body)
            is_json = True
        except ValueError:
            is_json = False
    return {
        "status": response.status,
        "headers": _safe_headers(response.headers),
        "json": parsed if is_json else None,
        "text": None if is_json else response.text()[:TEXT_CHARS],
    }


def _cost(value: Any) -> Decimal:
    if value is None:
        return Decimal(0)
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise BlockConfigError(f"cost must be a number, got {value!r}") from None
