"""``POST /copilot``: ask the copilot about a workflow; the answer, its edits, validation.

Thin: parse, call ``copilot_ask`` (which checks the person's permissions, starts the
system workflow and waits for it, bounded), render. Errors go through the API's
handlers: a bad message 400, no permission 403, no such workflow 404, a system
workflow in focus 409.

The request is served while the copilot's own tool calls come back to this API, so
the web server needs a worker free for them (``BIZAGENT_WEB_WORKERS``, 2 by default).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from django.http import HttpRequest
from ninja import Field, Router, Schema

from workflows.api.auth import api_user
from workflows.api.schemas import ErrorsOut, StrictIn
from workflows.services.copilot import copilot_ask

router = Router(tags=["copilot"])


class CopilotIn(StrictIn):
    """A message to the copilot about one workflow, in a thread (new when omitted)."""

    message: str = Field(min_length=1, max_length=4000)
    workflow: int = Field(ge=1, description="The id of the workflow in focus.")
    thread: str | None = Field(None, pattern=r"^[A-Za-z0-9_-]{1,64}$")


class CopilotOut(Schema):
    """The copilot's answer, the edits it made to the draft, and the validation after."""

    text: str
    thread: str
    run_id: int
    status: str
    edits: list[dict[str, Any]]
    validation: list[dict[str, Any]]
    draft_id: int | None
    rolled_back: bool


@router.post(
    "/copilot",
    response={200: CopilotOut, 400: ErrorsOut, 409: ErrorsOut},
    summary="Ask the copilot to read, fix or extend a workflow (edits its draft only)",
)
def copilot_post(request: HttpRequest, payload: CopilotIn) -> dict[str, Any]:
    answer = copilot_ask(
        user=api_user(request),
        workflow_id=payload.workflow,
        message=payload.message,
        thread=payload.thread,
    )
    return asdict(answer)
