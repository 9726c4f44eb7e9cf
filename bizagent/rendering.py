"""Safe rendering of model-written text, and the htmx request type, for every app's admin.

Model text is Markdown at best and hostile at worst: it is rendered as CommonMark with
raw HTML off (no markup can be injected), images off (an answer cannot make the browser
fetch anything) and markdown-it's default refusal of ``javascript:``, ``vbscript:`` and
``data:`` links. Tables stay on: snapshots of the portfolio use them.
"""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.safestring import SafeString, mark_safe
from django_htmx.middleware import HtmxDetails
from markdown_it import MarkdownIt

_MARKDOWN = MarkdownIt("commonmark", {"html": False}).enable("table").disable("image")


def markdown_render(text: str) -> SafeString:
    """Model or snapshot text as HTML: CommonMark without raw HTML, images or unsafe links."""
    return mark_safe(_MARKDOWN.render(text))  # noqa: S308 - html and images disabled above


class HtmxHttpRequest(HttpRequest):
    """A request as django-htmx's middleware (installed in settings) hands it over."""

    htmx: HtmxDetails
