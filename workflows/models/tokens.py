"""REST API tokens: a person's bearer credential, stored only as a digest.

The token itself is shown once, when it is made (``api_token_create``), and never
stored: the row keeps its SHA-256 ``digest`` (what authentication compares) and its
first characters (``prefix``), which are enough for a person to tell their tokens
apart in the admin and for authentication to find the candidate rows.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

__all__ = ["ApiToken"]


class ApiToken(models.Model):
    """A bearer token for ``/api/v1/``; it acts as ``user`` with ``user``'s permissions."""

    PREFIX_CHARS = 8

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="api_tokens",
        verbose_name=_("user"),
    )
    name = models.CharField(
        max_length=100,
        help_text=_("What the token is for (a script, a CI)."),
        verbose_name=_("name"),
    )
    prefix = models.CharField(
        max_length=PREFIX_CHARS,
        help_text=_("The token's first characters, to recognise it."),
        verbose_name=_("prefix"),
    )
    #: SHA-256 hex digest of the whole token.
    digest = models.CharField(max_length=64, unique=True, editable=False, verbose_name=_("digest"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    last_used_at = models.DateTimeField(null=True, blank=True, verbose_name=_("last used at"))
    expires_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text=_("Refused after this moment; empty: never expires."),
        verbose_name=_("expires at"),
    )
    revoked_at = models.DateTimeField(null=True, blank=True, verbose_name=_("revoked at"))

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        indexes = [models.Index(fields=["prefix"], name="workflows_apitoken_prefix")]
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"
