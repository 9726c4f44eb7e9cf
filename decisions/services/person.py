"""A person's own settings: the language they read the admin, mails and Telegram in.

``person_language_set`` is the one writer (the Profile page and the header's language
switch call it); ``person_language`` is the read the senders and the middleware use
(through ``bizagent.notify.message_language`` and ``decisions.middleware``).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from decisions.actors import Person
from decisions.models import PersonSettings
from decisions.services.audit import audit_log

Language = PersonSettings.Language


def person_language(*, user_id: int | None) -> str:
    """The person's stored language (``ja``/``en``), or ``""`` when they chose none."""
    if not user_id:
        return ""
    stored = (
        PersonSettings.objects.filter(user_id=user_id).values_list("language", flat=True).first()
    )
    return stored or ""


def person_language_set(*, user: Person, language: str, actor: Person | None = None) -> bool:
    """Store ``language`` (``ja``, ``en`` or ``""`` to follow the browser) for ``user``;
    True when it changed.

    Raises ``ValidationError`` naming the value and the languages offered; then nothing
    is written. The row is locked (or created, a concurrent first save losing to the
    one-to-one constraint and retried as an update) and the change audited
    (``decisions.person_language_changed``) in the same transaction.
    """
    if language not in ("", *Language.values):
        offered = ", ".join(f"{code} ({label})" for code, label in Language.choices)
        raise ValidationError(
            _("“%(language)s” is not a language bizagent is written in; choose %(offered)s.")
            % {"language": language, "offered": offered},
            code="language",
        )
    for attempt in range(2):
        try:
            with transaction.atomic():
                return _language_store(user=user, language=language, actor=actor)
        except IntegrityError:
            # Two first saves at once: the other created the row; lock it this time.
            if attempt:
                raise
    return False  # pragma: no cover - the loop returns or raises


def _language_store(*, user: Person, language: str, actor: Person | None) -> bool:
    row = PersonSettings.objects.select_for_update().filter(user_id=user.pk).first()
    old = row.language if row else ""
    if old == language:
        return False
    now = timezone.now()
    if row is None:
        row = PersonSettings(user_id=user.pk, language=language, updated_at=now)
        row.full_clean(validate_unique=False, validate_constraints=False)
        with transaction.atomic():
            row.save(force_insert=True)
    else:
        PersonSettings.objects.filter(pk=row.pk).update(language=language, updated_at=now)
    audit_log(
        action="decisions.person_language_changed",
        actor=actor or user,
        subject=user,
        data={"from": old, "to": language},
    )
    return True
