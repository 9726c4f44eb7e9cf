"""Email sending: one multipart message (plain text + HTML) rendered from templates.

Infrastructure only; who gets which mail is decided by the app (``decisions.services.mail``).
Mail bodies carry signed links, so they are never logged: log lines name the template
and the recipient count, nothing else.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.template.loader import render_to_string

logger = logging.getLogger(__name__)


#: How a person's own language is found (``decisions`` sets it at start: bizagent imports
#: no app). Takes a user id, returns ``ja``/``en`` or ``""`` when the person chose none.
_person_language_lookup: Callable[[int], str] | None = None


def message_language_lookup_set(lookup: Callable[[int], str] | None) -> None:
    """Tell ``message_language`` where a person's stored language is looked up."""
    global _person_language_lookup
    _person_language_lookup = lookup


def message_language(user: Any = None) -> str:
    """The language mails and Telegram messages to ``user`` are written in: the one the
    person chose (their Profile), else ``BIZAGENT_LANGUAGE`` (``LANGUAGE_CODE``).

    Senders render each recipient's message under
    ``translation.override(message_language(recipient))`` because a task or a command has
    no request whose language could be followed. Without a user: ``BIZAGENT_LANGUAGE``.
    """
    user_id = getattr(user, "pk", None)
    if user_id and _person_language_lookup is not None:
        chosen = _person_language_lookup(user_id)
        if chosen in {code for code, _name in settings.LANGUAGES}:
            return chosen
    return settings.LANGUAGE_CODE


def email_build(
    *,
    to: Sequence[str],
    subject: str,
    template: str,
    context: Mapping[str, Any],
    from_email: str | None = None,
    connection: BaseEmailBackend | None = None,
) -> EmailMultiAlternatives:
    """Render ``<template>.txt`` and ``<template>.html`` into one multipart message."""
    text = render_to_string(f"{template}.txt", dict(context))
    html = render_to_string(f"{template}.html", dict(context))
    # A newline in a subject would be a header injection; Django refuses it, we flatten it.
    subject = " ".join(subject.split())
    message = EmailMultiAlternatives(
        subject=subject,
        body=text,
        from_email=from_email or settings.DEFAULT_FROM_EMAIL,
        to=list(to),
        connection=connection,
    )
    message.attach_alternative(html, "text/html")
    return message


def email_send(
    *,
    to: Sequence[str],
    subject: str,
    template: str,
    context: Mapping[str, Any],
    from_email: str | None = None,
    connection: BaseEmailBackend | None = None,
) -> int:
    """Send one message through Django's configured backend; returns the number sent.

    Errors from the backend propagate, so a django-q2 task sees them and retries.
    """
    message = email_build(
        to=to,
        subject=subject,
        template=template,
        context=context,
        from_email=from_email,
        connection=connection or get_connection(),
    )
    sent = message.send(fail_silently=False)
    logger.info("email: sent %s to %d recipient(s)", template, len(message.to))
    return sent
