"""Read JSON and text that a person handed us, with limits, and refuse it in one clear line.

``json.loads`` recurses once per nesting level (a document nested 100,000 deep raises
``RecursionError``), accepts ``NaN`` and ``Infinity`` (which no database JSON column
stores) and lone surrogates (which no UTF-8 encoder writes). ``read_file`` must not
swallow ``/dev/zero``. Each check here runs before anything is stored, and each error
names what was wrong and where (``--args``, ``config``, a file path).
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

from bizagent.env import value_shown

MAX_BYTES = 1_000_000
MAX_DEPTH = 64

_SURROGATE = re.compile("[\ud800-\udfff]")
# Strings first (their brackets do not nest), then the brackets that remain.
_STRING = re.compile(r'"(?:[^"\\]+|\\.)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")


class InputRefused(ValueError):
    """Input refused before any use; the message is one line naming what was wrong."""


def text_checked(value: str, *, what: str) -> str:
    """``value`` unchanged, or ``InputRefused`` when it holds a lone surrogate.

    Python turns bytes that are not UTF-8 (in argv, say) into lone surrogates; they pass
    every check and then fail in the database driver. Refuse them up front, by name.
    """
    match = _SURROGATE.search(value)
    if match:
        raise InputRefused(
            f"{what}: contains an invalid character (a lone UTF-16 surrogate or a byte "
            f"that is not UTF-8) at position {match.start()}"
        )
    return value


def json_depth(text: str) -> int:
    """The deepest nesting of ``[``/``{`` in JSON text, found by a loop, not recursion."""
    depth = deepest = 0
    for match in _BRACKET.finditer(_STRING.sub('""', text)):
        if match.group() in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def _refuse_constant(name: str) -> Any:
    raise InputRefused(f"{name} is not a JSON number (NaN and Infinity cannot be stored)")


def json_loads_bounded(
    text: str | bytes, *, what: str, max_bytes: int = MAX_BYTES, max_depth: int = MAX_DEPTH
) -> Any:
    """Parse JSON text from outside, within size and depth limits, with finite numbers only.

    Raises ``InputRefused`` whose message starts with ``what`` (``--args``, ``config``).
    """
    if isinstance(text, bytes):
        if len(text) > max_bytes:
            raise InputRefused(f"{what}: larger than {max_bytes:,} bytes")
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputRefused(f"{what}: not UTF-8 text (byte {exc.start})") from None
    elif len(text) > max_bytes or len(text.encode("utf-8", "surrogatepass")) > max_bytes:
        raise InputRefused(f"{what}: larger than {max_bytes:,} bytes")
    text_checked(text, what=what)
    if json_depth(text) > max_depth:
        raise InputRefused(f"{what}: JSON nested deeper than {max_depth} levels")
    try:
        document = json.loads(text, parse_constant=_refuse_constant)
    except InputRefused as exc:
        raise InputRefused(f"{what}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise InputRefused(
            f"{what}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None
    except RecursionError:  # a depth the scan missed must still not be a traceback
        raise InputRefused(f"{what}: JSON nested deeper than {max_depth} levels") from None
    _check_values(document, what=what)
    return document


def _check_values(document: Any, *, what: str) -> None:
    """Escapes (``"\\ud800"``) and huge exponents (``1e999``) pass the parser: refuse them."""
    pending = [document]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                text_checked(key, what=f"{what}: key {value_shown(key)}")
                pending.append(value)
        elif isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, str):
            text_checked(item, what=f"{what}: value {value_shown(item, limit=40)}")
        elif isinstance(item, float) and not math.isfinite(item):
            raise InputRefused(f"{what}: a number is too large to store (it overflows to {item})")


def file_read_bounded(path: str | Path, *, what: str, max_bytes: int = MAX_BYTES) -> bytes:
    """At most ``max_bytes`` of a file; ``/dev/zero`` or a 10 GB file is refused, not read."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        raise InputRefused(f"{what}: cannot read {path}: {exc.strerror or exc}") from None
    if len(data) > max_bytes:
        raise InputRefused(f"{what}: {path} is larger than {max_bytes:,} bytes")
    return data
