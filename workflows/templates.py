"""The template language of step configs: paths into plain JSON, nothing else.

``{{ input.customer.name }}``, ``{{ steps.fetch.output.items.0.id }}``,
``{{ vars.limit }}``, ``{{ ctx.run_id }}``: a root, then identifiers and integer
indexes separated by dots. No expressions, no calls, no filters, no attribute access on
Python objects: expression sandboxes (n8n's, Jinja's) have a long record of escapes, so
this language has nothing to escape from. It is resolved against plain JSON only.

A string that is one template and nothing else yields the value itself (a number stays
a number, an object an object); templates inside longer text are replaced by their text
(JSON for objects and lists). A reference that does not resolve is an error, never a
silent null.

Text bound for a prompt has Harmony's control sequences (``<|start|>``, ``<|call|>``…)
neutralised, so data cannot forge a message boundary.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

ROOTS = ("input", "steps", "vars", "ctx")

#: The ``ctx`` keys a template may read; anything else is refused at save time.
CTX_KEYS = (
    "run_id",
    "workflow_id",
    "workflow_key",
    "workflow_version",
    "step_name",
    "idempotency_key",
    "now",
    "today",
    "is_test",
    "internal_api_token",
    "internal_base_url",
)

#: What may follow ``steps.<name>.``: a step's output (and the port it left by).
STEP_FIELDS = ("output", "port", "status")

# A letter or '_' then word characters, Unicode included: JSON keys such as 顧客 are
# reachable. Indexes are ASCII digits only (``\d`` would also take other scripts' digits).
_IDENT = r"[^\W\d]\w*"
_SEGMENT = rf"(?:{_IDENT}|[0-9]+)"
_TEMPLATE = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
_PATH = re.compile(rf"^\s*({_IDENT}(?:\.{_SEGMENT})*)\s*$")
# Harmony's special tokens, named ones and the numbered reserved ones (<|reserved_200012|>).
_HARMONY = re.compile(r"<\|([A-Za-z0-9_]*)\|>")


class TemplateError(ValueError):
    """A template is malformed or does not resolve; ``path`` says where in the config."""

    def __init__(self, message: str, *, path: str = "", text: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.path = path
        self.text = text


@dataclass(frozen=True)
class TemplateRef:
    """One ``{{ … }}`` found in a config: its root, its path and where it sits."""

    text: str
    root: str
    segments: tuple[str | int, ...]
    #: Where in the config (``url``, ``headers.Authorization``, ``variables.0.value``).
    where: str

    @property
    def step(self) -> str | None:
        """The step a ``steps.<name>…`` reference names."""
        if self.root == "steps" and self.segments:
            return str(self.segments[0])
        return None


def _segments(path: str) -> tuple[str, tuple[str | int, ...]]:
    root, *rest = path.split(".")
    return root, tuple(int(part) if part.isascii() and part.isdigit() else part for part in rest)


def _parse(inner: str, *, where: str) -> TemplateRef:
    text = "{{" + inner + "}}"
    match = _PATH.match(inner)
    if match is None:
        raise TemplateError(
            f"{text} is not a path: only identifiers and integer indexes joined by dots "
            "(no expressions, calls or filters)",
            path=where,
            text=text,
        )
    root, segments = _segments(match.group(1))
    if root not in ROOTS:
        raise TemplateError(
            f"{text} starts with {root!r}: a template starts with one of {', '.join(ROOTS)}",
            path=where,
            text=text,
        )
    if root == "steps":
        if len(segments) < 2 or not isinstance(segments[0], str):
            raise TemplateError(
                f"{text} must name a step and a field: steps.<name>.output…",
                path=where,
                text=text,
            )
        if segments[1] not in STEP_FIELDS:
            raise TemplateError(
                f"{text}: a step offers {', '.join(STEP_FIELDS)}, not {segments[1]!r}",
                path=where,
                text=text,
            )
    if root == "ctx" and (len(segments) != 1 or segments[0] not in CTX_KEYS):
        raise TemplateError(f"{text}: ctx offers {', '.join(CTX_KEYS)}", path=where, text=text)
    return TemplateRef(text=text, root=root, segments=segments, where=where)


def _walk(value: Any, where: str) -> Iterator[tuple[str, str]]:
    """Every string in a JSON value, with where it sits (dot path)."""
    if isinstance(value, str):
        yield where, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(item, f"{where}.{key}" if where else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, f"{where}.{index}" if where else str(index))


def template_refs(value: Any, *, where: str = "") -> list[TemplateRef]:
    """Every template in ``value`` (any JSON); raises ``TemplateError`` on a malformed one."""
    refs: list[TemplateRef] = []
    for path, text in _walk(value, where):
        for match in _TEMPLATE.finditer(text):
            refs.append(_parse(match.group(1), where=path))
        rest = _TEMPLATE.sub("", text)
        if "{{" in rest or "}}" in rest:
            raise TemplateError(f"unbalanced braces in {text!r}", path=path, text=text)
    return refs


def template_scan(value: Any, *, where: str = "") -> tuple[list[TemplateRef], list[TemplateError]]:
    """Every well-formed template in ``value`` and every malformed one, without raising.

    Each ``{{ … }}`` is judged on its own, so one bad template in a string does not hide
    the references (or the other mistakes) beside it.
    """
    refs: list[TemplateRef] = []
    problems: list[TemplateError] = []
    for path, text in _walk(value, where):
        for match in _TEMPLATE.finditer(text):
            try:
                refs.append(_parse(match.group(1), where=path))
            except TemplateError as exc:
                problems.append(exc)
        rest = _TEMPLATE.sub("", text)
        if "{{" in rest or "}}" in rest:
            problems.append(TemplateError(f"unbalanced braces in {text!r}", path=path, text=text))
    return refs, problems


def template_problems(value: Any, *, where: str = "") -> list[TemplateError]:
    """Like ``template_refs`` but returns every malformed template instead of raising."""
    return template_scan(value, where=where)[1]


def harmony_neutralise(text: str) -> str:
    """Make Harmony control sequences inert: ``<|start|>`` becomes ``<｜start｜>``.

    The full-width bar reads the same to a person and encodes as plain text, so data
    can never open or close a message in a rendered prompt.
    """
    return _HARMONY.sub(lambda m: f"<｜{m.group(1)}｜>", text)


def path_resolve(scope: dict[str, Any], ref: TemplateRef) -> Any:
    """The value ``ref`` points at in ``scope``; ``TemplateError`` naming what is missing."""
    if ref.root not in scope:
        raise TemplateError(
            f"{ref.text}: nothing named {ref.root!r} here", path=ref.where, text=ref.text
        )
    value = scope[ref.root]
    walked = ref.root
    for segment in ref.segments:
        if isinstance(value, dict) and isinstance(segment, str) and segment in value:
            value = value[segment]
        elif isinstance(value, dict) and isinstance(segment, int) and str(segment) in value:
            value = value[str(segment)]
        elif isinstance(value, list) and isinstance(segment, int) and segment < len(value):
            value = value[segment]
        else:
            if ref.root == "steps" and walked == "steps":
                reason = f"step {segment!r} has not run (or is not upstream)"
            elif isinstance(value, list):
                reason = f"{walked} has {len(value)} items, no index {segment}"
            elif isinstance(value, dict):
                reason = f"{walked} has no {segment!r}"
            else:
                reason = f"{walked} is {_kind(value)}, not an object or a list"
            raise TemplateError(
                f"{ref.text} does not resolve: {reason}", path=ref.where, text=ref.text
            )
        walked = f"{walked}.{segment}"
    return value


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return type(value).__name__


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _neutralise_value(value: Any) -> Any:
    if isinstance(value, str):
        return harmony_neutralise(value)
    if isinstance(value, dict):
        return {harmony_neutralise(str(k)): _neutralise_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_neutralise_value(item) for item in value]
    return value


def _render_string(text: str, scope: dict[str, Any], *, where: str, neutralise: bool) -> Any:
    matches = list(_TEMPLATE.finditer(text))
    if not matches and "{{" not in text and "}}" not in text:
        return text
    if not matches:
        template_refs(text, where=where)  # raises: unbalanced braces
    if len(matches) == 1 and matches[0].span() == (0, len(text)):
        value = path_resolve(scope, _parse(matches[0].group(1), where=where))
        # The raw value may be an object or a list whose strings reach a prompt as JSON:
        # every string in it is neutralised, keys included.
        return _neutralise_value(value) if neutralise else value
    refs = iter(template_refs(text, where=where))

    def substitute(match: re.Match[str]) -> str:
        piece = _as_text(path_resolve(scope, next(refs)))
        return harmony_neutralise(piece) if neutralise else piece

    return _TEMPLATE.sub(substitute, text)


def template_render(
    value: Any,
    scope: dict[str, Any],
    *,
    where: str = "",
    neutralise: bool = False,
) -> Any:
    """``value`` (any JSON) with every template resolved against ``scope``.

    ``scope`` holds the roots: ``input``, ``steps`` (``{name: {"output": …}}``),
    ``vars``, ``ctx``. With ``neutralise`` the substituted text has Harmony control
    sequences made inert (for text that reaches a prompt).
    """
    if isinstance(value, str):
        return _render_string(value, scope, where=where, neutralise=neutralise)
    if isinstance(value, dict):
        return {
            key: template_render(
                item, scope, where=f"{where}.{key}" if where else str(key), neutralise=neutralise
            )
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [
            template_render(
                item,
                scope,
                where=f"{where}.{index}" if where else str(index),
                neutralise=neutralise,
            )
            for index, item in enumerate(value)
        ]
    return value
