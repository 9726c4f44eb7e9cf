"""Strict readers for configuration taken from the environment.

Each helper names the variable in its error, so a wrong value fails at start-up with a
message an operator can act on (healthchecks' ``envbool`` is the model).
"""

from __future__ import annotations

import ipaddress
import math
import os
import re
import sys
from collections.abc import Callable
from typing import TextIO, TypeVar, overload
from urllib.parse import urlparse

from django.core.exceptions import ImproperlyConfigured

from bizagent.redact import url_redact

T = TypeVar("T")

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


#: How much of a bad value an error message quotes: enough to recognise it, never 10 MB.
SHOWN_CHARS = 80


def value_shown(value: object, *, limit: int = SHOWN_CHARS) -> str:
    """``repr`` of at most ``limit`` characters of ``value``, marked when cut short."""
    text = str(value)
    if len(text) > limit:
        return repr(text[:limit]) + f"… ({len(text)} characters)"
    return repr(text)


# A string default means the caller always gets a string back: the overloads tell the type
# checker so, and settings need no casts.
@overload
def env_str(name: str, default: str) -> str: ...
@overload
def env_str(name: str, default: None = None) -> str | None: ...
def env_str(name: str, default: str | None = None) -> str | None:
    """The variable's value, or ``default`` when unset or empty.

    Bytes that are not UTF-8 reach Python as lone surrogates; they would fail later in a
    database driver or an encoder far from here, so they are refused now, by name.
    """
    value = os.environ.get(name, "")
    if not value.strip():
        return default
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ImproperlyConfigured(f"{name} must be UTF-8 text (it holds invalid bytes)") from None
    return value


def env_bool(name: str, default: bool) -> bool:
    value = env_str(name)
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, got {value_shown(value)}")


def _range_error(
    name: str, kind: str, value: str, minimum: float | None, maximum: float | None, unit: str
) -> ImproperlyConfigured:
    unit = f" ({unit})" if unit else ""
    if minimum is not None and maximum is not None:
        wanted = f"{kind} between {minimum:g} and {maximum:g}{unit}"
    elif minimum is not None:
        wanted = f"at least {minimum:g}{unit}"
    elif maximum is not None:
        wanted = f"at most {maximum:g}{unit}"
    else:
        wanted = kind
    return ImproperlyConfigured(f"{name} must be {wanted}, got {value_shown(value.strip())}")


def env_int(
    name: str,
    default: int,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    unit: str = "",
) -> int:
    """A whole number within ``[minimum, maximum]`` (each bound optional)."""
    value = env_str(name)
    if value is None:
        return default
    text = value.strip()
    if not text.lstrip("+-").isdigit():
        raise ImproperlyConfigured(f"{name} must be an integer, got {value_shown(text)}")
    # int() refuses more than 4,300 digits with a ValueError; say it is out of range instead.
    if len(text) > 4000:
        raise _range_error(name, "an integer", text, minimum, maximum, unit)
    number = int(text)
    if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
        raise _range_error(name, "an integer", text, minimum, maximum, unit)
    return number


def env_float(
    name: str,
    default: float,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    unit: str = "",
) -> float:
    """A finite number within ``[minimum, maximum]`` (each bound optional)."""
    value = env_str(name)
    if value is None:
        return default
    text = value.strip()
    try:
        number = float(text) if len(text) <= 64 else None
    except ValueError:
        number = None
    if number is None:
        raise ImproperlyConfigured(f"{name} must be a number, got {value_shown(text)}")
    if not math.isfinite(number):
        raise ImproperlyConfigured(f"{name} must be a finite number, got {value_shown(text)}")
    if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
        raise _range_error(name, "a number", text, minimum, maximum, unit)
    return number


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = (env_str(name) or default).strip().lower()
    if value not in choices:
        raise ImproperlyConfigured(
            f"{name} must be one of {', '.join(choices)}, got {value_shown(value)}"
        )
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    value = env_str(name)
    if value is None:
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]


_HOST_NAME = re.compile(
    r"^(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?\.)*[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$"
)


def env_hosts(name: str) -> list[str]:
    """A comma list of bare host names or IP literals, lower-cased (unset: empty).

    Compared by exact match against a URL's host, so a scheme, a port, a path or a
    wildcard would silently never match: each is refused now, naming the variable.
    """
    hosts = []
    for item in env_list(name, []):
        host = item.lower()
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
        try:
            ipaddress.ip_address(host)
        except ValueError:
            if not _HOST_NAME.match(host):
                raise ImproperlyConfigured(
                    f"{name} must list bare host names or IP addresses (no scheme, port, "
                    f"path or wildcard), got {value_shown(item)}"
                ) from None
        hosts.append(host)
    return hosts


def url_redacted(url: str) -> str:
    """The URL with its credentials replaced, safe to print in an error or a log line."""
    return url_redact(url)


@overload
def env_url(name: str, default: str, *, schemes: tuple[str, ...]) -> str: ...
@overload
def env_url(name: str, default: None, *, schemes: tuple[str, ...]) -> str | None: ...
def env_url(name: str, default: str | None, *, schemes: tuple[str, ...]) -> str | None:
    """A URL whose scheme is one of ``schemes`` and which names a host (or a path for sqlite)."""
    value = env_str(name, default)
    if value is None:
        return None
    value = value.strip()
    shown = value_shown(url_redacted(value))
    try:
        parsed = urlparse(value)
    except ValueError:  # an unclosed IPv6 bracket, say
        raise ImproperlyConfigured(f"{name} is not a valid URL, got {shown}") from None
    if parsed.scheme not in schemes:
        raise ImproperlyConfigured(
            f"{name} must be a URL starting with {' or '.join(s + '://' for s in schemes)}, "
            f"got {shown}"
        )
    if parsed.scheme != "sqlite" and not parsed.hostname:
        raise ImproperlyConfigured(f"{name} must name a host, got {shown}")
    try:
        parsed.port  # noqa: B018 - raises ValueError on a non-numeric port
    except ValueError:
        raise ImproperlyConfigured(f"{name} has an invalid port: {shown}") from None
    return value


def configuration_error_line(exc: ImproperlyConfigured) -> str:
    """The error as the one line an operator sees: no traceback, no embedded newlines."""
    return "configuration error: " + " ".join(str(exc).split())


def run_or_exit_on_configuration_error(
    start: Callable[[], T], *, stream: TextIO | None = None
) -> T:
    """Run ``start`` (manage.py's command, the WSGI app's set-up); a bad setting exits 2.

    Every helper here raises ``ImproperlyConfigured`` naming the variable; at start-up
    that one line is all an operator needs, so it is printed alone instead of Django's
    forty-line traceback.
    """
    try:
        return start()
    except ImproperlyConfigured as exc:
        print(configuration_error_line(exc), file=stream or sys.stderr, flush=True)
        raise SystemExit(2) from None
