"""The signed-in staff member's Profile page (admin user menu → Profile): the language
they read bizagent in, and the way to their notification and Telegram pages; and the
header's language switch, which also stores a signed-in person's choice. The logic is
``decisions.services.person``."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.admin import AdminSite
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST
from django.views.i18n import set_language

from decisions.middleware import person_language_cache
from decisions.models import PersonSettings, TelegramLink
from decisions.services.person import person_language, person_language_set


def _language_cookie(response: HttpResponse, language: str) -> None:
    """The cookie Django's ``set_language`` writes, so cookie and profile agree; none
    when the person follows the browser (its Accept-Language then decides)."""
    if language:
        response.set_cookie(
            settings.LANGUAGE_COOKIE_NAME,
            language,
            max_age=settings.LANGUAGE_COOKIE_AGE,
            path=settings.LANGUAGE_COOKIE_PATH,
            domain=settings.LANGUAGE_COOKIE_DOMAIN,
            secure=settings.LANGUAGE_COOKIE_SECURE,
            httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
            samesite=settings.LANGUAGE_COOKIE_SAMESITE,
        )
    else:
        response.delete_cookie(
            settings.LANGUAGE_COOKIE_NAME,
            path=settings.LANGUAGE_COOKIE_PATH,
            domain=settings.LANGUAGE_COOKIE_DOMAIN,
        )


@never_cache
@require_http_methods(["GET", "POST"])
def profile_page(request: HttpRequest, *, admin_site: AdminSite) -> HttpResponse:
    """GET shows the person's language; POST stores it, and the page it redirects to is
    already in that language (wrapped in ``admin_view``: staff only, their own profile)."""
    user = request.user
    current = person_language(user_id=user.pk)
    errors: list[str] = []
    if request.method == "POST":
        language = request.POST.get("language", "")
        try:
            changed = person_language_set(user=user, language=language)  # type: ignore[arg-type]
        except ValidationError as exc:
            errors = exc.messages
        else:
            person_language_cache(request, language=language)
            if language:
                translation.activate(language)  # the message below reads in the new language
            messages.success(
                request,
                _("Your profile is saved.")
                if changed
                else _("Nothing changed: your profile is as it was."),
            )
            response = redirect("admin:decisions_profile")
            _language_cookie(response, language)
            return response
    choices = [
        {"value": "", "label": _("Follow my browser"), "lang": ""},
        *(
            {"value": code, "label": label, "lang": code}
            for code, label in PersonSettings.Language.choices
        ),
    ]
    default_name = dict(settings.LANGUAGES).get(settings.LANGUAGE_CODE, settings.LANGUAGE_CODE)
    context = {
        **admin_site.each_context(request),
        "title": _("Profile"),
        "choices": choices,
        "current": current,
        "default_language": default_name,
        "linked": TelegramLink.objects.filter(user_id=user.pk or 0).exists(),
        "errors": errors,
    }
    return render(request, "admin/decisions/profile.html", context)


@require_POST
def language_switch(request: HttpRequest) -> HttpResponse:
    """The header's 日本語/English switch: Django's ``set_language`` (cookie, back to the
    page), and for a signed-in person the same choice stored in their profile, so it
    follows them to another browser."""
    response = set_language(request)
    language = request.POST.get("language", "")
    user = request.user
    if user.is_authenticated and language in PersonSettings.Language.values:
        person_language_set(user=user, language=language)
        person_language_cache(request, language=language)
    return response
