"""The REST API under ``/api/v1/`` (django-ninja).

Why django-ninja rather than DRF + drf-spectacular: the request and response shapes
are typed pydantic classes, and the OpenAPI document (``/api/v1/openapi.json``) is
generated from those same classes, so what the docs say is what is checked; one
dependency instead of two, and no serializer layer to keep in step with a schema
generator.

The docs page (``/api/v1/docs``) is Swagger UI served from the assets django-ninja
ships inside its wheel (``ninja/static``, found by staticfiles because ``ninja`` is an
installed app), so it works with no internet; Swagger's online validator is switched
off so the page makes no outside request.

Errors: an invalid write answers 400 ``{"errors": [Problem, ...]}`` with every problem
(shape errors from pydantic converted to the validator's codes MISSING / TYPE /
UNKNOWN_KEY with a dot path); a refused transition 409; a missing row 404; no
credentials 401; a missing permission 403 naming it. Nothing in an error echoes the
submitted values, so a secret in a request never comes back in its answer.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI, Swagger
from ninja.errors import ValidationError

from workflows.api import blocks, copilot, runs, workflows
from workflows.api.auth import ActiveSessionAuth, BearerTokenAuth
from workflows.errors import Problem, RunInputInvalid, WorkflowInvalid, WorkflowStateError, problem

__all__ = ["api", "pydantic_problems"]

api = NinjaAPI(
    title="bizagent API",
    version="1",
    description="Workflows, their steps and runs, and the block catalogue.",
    urls_namespace="api-v1",
    auth=[BearerTokenAuth(), ActiveSessionAuth()],
    docs=Swagger(settings={"validatorUrl": None}),
)
api.add_router("", blocks.router)
api.add_router("", workflows.router)
api.add_router("", runs.router)
api.add_router("", copilot.router)

#: Where ninja puts a request value in a pydantic location (stripped from paths).
_SOURCES = {"body", "query", "path", "header", "cookie", "form", "file"}


def _problem_code(error_type: str) -> str:
    if error_type == "missing":
        return "MISSING"
    if error_type == "extra_forbidden":
        return "UNKNOWN_KEY"
    return "TYPE"


def pydantic_problems(errors: list[dict[str, Any]]) -> list[Problem]:
    """Pydantic errors as Problems: the code, a message that never quotes the value, a path."""
    problems = []
    for error in errors:
        loc = [str(part) for part in error.get("loc", ())]
        if loc and loc[0] in _SOURCES:
            source, *loc = loc
            # A body's first part is the parameter name (``payload``): not the client's.
            if source == "body" and loc:
                loc = loc[1:]
        path = ".".join(loc)
        code = _problem_code(str(error.get("type", "")))
        if code == "UNKNOWN_KEY":
            message = f"{path}: unknown key"
        elif code == "MISSING":
            message = f"{path}: required"
        else:
            message = f"{path}: {error.get('msg', 'wrong type')}" if path else str(error.get("msg"))
        problems.append(problem(code, message, path=path))
    return problems


def _document_problems(request: HttpRequest) -> list[Problem]:
    """The validator's problems with a document body whose shape pydantic refused.

    Pydantic stops at the shape; the validator also checks blocks, edges and templates
    and reports every problem, so the client learns everything wrong in one answer.
    """
    match = request.resolver_match
    route = match.route.removeprefix("api/v1/") if match else ""
    if (request.method, route) not in workflows.DOCUMENT_OPERATIONS:
        return []
    try:
        document = json.loads(request.body)
    except ValueError:
        return []
    if not isinstance(document, dict):
        return []
    return workflows.document_problems(document=document)


@api.exception_handler(ValidationError)
def _validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    problems = _document_problems(request)
    seen = {(p["code"], p["path"]) for p in problems}
    problems += [p for p in pydantic_problems(exc.errors) if (p["code"], p["path"]) not in seen]
    return api.create_response(request, {"errors": problems}, status=400)


@api.exception_handler(WorkflowInvalid)
def _workflow_invalid(request: HttpRequest, exc: WorkflowInvalid) -> HttpResponse:
    return api.create_response(request, {"errors": exc.problems}, status=400)


@api.exception_handler(RunInputInvalid)
def _run_input_invalid(request: HttpRequest, exc: RunInputInvalid) -> HttpResponse:
    return api.create_response(request, {"errors": exc.problems}, status=400)


@api.exception_handler(WorkflowStateError)
def _state_error(request: HttpRequest, exc: WorkflowStateError) -> HttpResponse:
    return api.create_response(
        request, {"errors": [problem("STATE", str(exc), path="")]}, status=409
    )


@api.exception_handler(PermissionDenied)
def _permission_denied(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
    return api.create_response(request, {"detail": str(exc) or "Forbidden"}, status=403)


@api.exception_handler(ObjectDoesNotExist)
def _not_found(request: HttpRequest, exc: ObjectDoesNotExist) -> HttpResponse:
    return api.create_response(request, {"detail": "Not Found"}, status=404)
