"""The backend interface and the HTTP call every requests-based backend shares."""

from __future__ import annotations

import json
import socket
from typing import Any, Protocol

import orjson
import requests
from urllib3.exceptions import NewConnectionError

from bizagent.llm.errors import (
    ErrorWhere,
    LLMMalformedOutput,
    LLMServerError,
    LLMTimeout,
    LLMUnreachable,
)
from bizagent.llm.types import ChatRequest, ChatResult


class Backend(Protocol):
    name: str
    base_url: str
    model: str

    def send(self, request: ChatRequest, *, timeout: float) -> ChatResult:
        """One attempt; raises a classified ``LLMError``."""
        ...


def connection_refused(exc: BaseException) -> str:
    """Why nothing accepted the connection, or "" when it was accepted and then dropped.

    Walks the exception chain: requests wraps urllib3's ``NewConnectionError``, the openai
    SDK wraps its HTTP library's ``ConnectError``; the OS error sits underneath.
    """
    seen: set[int] = set()
    pending: list[BaseException] = [exc]
    connect_failed = False
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, socket.gaierror):
            return f"host name not resolved ({current.strerror or current})"
        if isinstance(current, ConnectionRefusedError):
            return "connection refused: nothing is listening there"
        if isinstance(current, NewConnectionError) or type(current).__name__ == "ConnectError":
            connect_failed = True
        for linked in (getattr(current, "reason", None), current.__cause__, current.__context__):
            if isinstance(linked, BaseException):
                pending.append(linked)
        pending.extend(arg for arg in current.args if isinstance(arg, BaseException))
    return f"cannot connect ({exc})" if connect_failed else ""


def _error_message(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300].strip() or response.reason
    if isinstance(body, dict):
        error = body.get("error", body.get("message", body))
        if isinstance(error, dict):
            error = error.get("message", error)
        return str(error)[:300]
    return str(body)[:300]


_JSON = {"Content-Type": "application/json"}


def _json_read(response: requests.Response) -> Any:
    """The response's JSON: orjson reads UTF-8 JSON, as servers send it; anything it
    refuses (another encoding, ``NaN``) is read by ``response.json()`` as before, which
    also words the error."""
    try:
        return orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return response.json()


def http_post_json(
    session: requests.Session,
    url: str,
    payload: dict[str, Any],
    *,
    timeout: float,
    model: str,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """POST JSON and return the JSON object back, classifying every way it can fail."""
    where: ErrorWhere = {"url": url, "model": model}
    # orjson, not requests' ``json=``: a loop prompt is ~5,000 token ids each way (vLLM
    # echoes them), and the standard library took ~1 ms a direction for them.
    data = orjson.dumps(payload)
    try:
        response = session.post(
            url, data=data, timeout=timeout, headers={**_JSON, **(headers or {})}
        )
    except requests.Timeout as exc:
        raise LLMTimeout(f"no answer within {timeout:g}s", **where) from exc
    except requests.ConnectionError as exc:
        refused = connection_refused(exc)
        if refused:
            raise LLMUnreachable(refused, **where) from exc
        raise LLMServerError(
            f"the connection dropped before a full answer ({exc})", **where
        ) from exc
    except (
        requests.exceptions.ChunkedEncodingError,
        requests.exceptions.ContentDecodingError,
    ) as exc:
        raise LLMServerError(f"the answer was cut off in transit ({exc})", **where) from exc
    except requests.RequestException as exc:
        raise LLMUnreachable(str(exc), **where) from exc
    if response.status_code >= 400:
        raise LLMServerError(
            f"HTTP {response.status_code}: {_error_message(response)}",
            status=response.status_code,
            **where,
        )
    try:
        body = _json_read(response)
    except (ValueError, json.JSONDecodeError) as exc:
        raise LLMMalformedOutput(
            f"the answer is not JSON: {response.text[:200]!r}", **where
        ) from exc
    if not isinstance(body, dict):
        raise LLMMalformedOutput(f"expected a JSON object, got {type(body).__name__}", **where)
    return body
