"""The project's 400 handler: a body over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` says so.

Django refuses such a body before any view runs (``RequestDataTooBig``) and answers a
bare "Bad Request (400)", which tells a person who pasted 10 MB into the New goal box,
or a client posting it to the API, nothing. This answers 413 with a message naming the
limit (JSON ``{"errors": [...]}`` under ``/api/``, as the API's other errors are); any
other bad request keeps Django's default page.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.html import format_html
from django.views import defaults

__all__ = ["bad_request"]


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """``handler400``: a clear 413 for a body too large to read, Django's page otherwise."""
    if not isinstance(exception, RequestDataTooBig):
        return defaults.bad_request(request, exception)
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 0
    message = (
        f"The request is larger than {limit:,} bytes, so nothing in it was read or saved; "
        "send less (a goal is one sentence)."
    )
    if request.path.startswith("/api/"):
        problem = {"code": "TOO_LARGE", "message": message, "step": None, "path": "body"}
        return JsonResponse({"errors": [problem]}, status=413)
    page = format_html(
        '<!doctype html><html lang="en"><head><title>Request too large</title></head>'
        '<body><h1>Request too large</h1><p class="errornote">{}</p></body></html>',
        message,
    )
    return HttpResponse(page, status=413)
