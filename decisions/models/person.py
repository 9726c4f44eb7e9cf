"""A person's own settings: today the language their pages, mails and Telegram messages
are written in. A missing row (or a blank language) means "follow the browser" for pages
and ``BIZAGENT_LANGUAGE`` for messages. Only ``decisions.services.person`` writes it."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class PersonSettings(models.Model):
    """One person's settings (one row per user, made on their first save)."""

    class Language(models.TextChoices):
        # Each language in its own name: someone who cannot read the page finds theirs.
        JA = "ja", "日本語"
        EN = "en", "English"

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="person_settings",
        verbose_name=_("person"),
    )
    #: Blank: follow the browser (pages) and BIZAGENT_LANGUAGE (mails, Telegram).
    language = models.CharField(
        _("language"), max_length=8, choices=Language.choices, blank=True, default=""
    )
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)

    class Meta:
        verbose_name = _("person's settings")
        verbose_name_plural = _("people's settings")

    def __str__(self) -> str:
        return f"settings of user {self.user_id}: language {self.language or '(browser)'}"
