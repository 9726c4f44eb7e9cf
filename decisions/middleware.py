"""The signed-in person's own language (their Profile) for every page they open.

Django's ``LocaleMiddleware`` has already chosen from the language cookie, then the
browser's ``Accept-Language``, then ``BIZAGENT_LANGUAGE``; this middleware, after
authentication, puts the person's stored language above all three. The stored value is
cached on the session (re-read after ``SESSION_LANGUAGE_TTL``), so a page costs no extra
query; the Profile page and the language switch refresh the cache when they save.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils import translation

from decisions.services.person import person_language

#: Session key of the cached choice: ``{"user": id, "language": code or "", "at": epoch}``.
SESSION_KEY = "bizagent_person_language"
#: How long a session trusts its cached choice: a choice made in another browser reaches
#: this one within this time (at once in the browser that made it).
SESSION_LANGUAGE_TTL = 600


def person_language_cache(request: HttpRequest, *, language: str) -> None:
    """Remember ``language`` as the signed-in person's choice on this session."""
    request.session[SESSION_KEY] = {
        "user": request.user.pk,
        "language": language,
        "at": int(time.time()),
    }


def _cached_language(request: HttpRequest) -> str:
    cached = request.session.get(SESSION_KEY)
    if (
        isinstance(cached, dict)
        and cached.get("user") == request.user.pk
        and time.time() - cached.get("at", 0) < SESSION_LANGUAGE_TTL
    ):
        return str(cached.get("language") or "")
    language = person_language(user_id=request.user.pk)
    person_language_cache(request, language=language)
    return language


class PersonLanguageMiddleware:
    """Activate the signed-in person's stored language, when they chose one."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            language = _cached_language(request)
            if language:
                translation.activate(language)
                request.LANGUAGE_CODE = language
        return self.get_response(request)
