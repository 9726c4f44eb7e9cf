"""Conversation memory for the ``memory-buffer`` block: messages kept per key.

A key is a resolved template (``user-42-thread-7``); rows are read newest first by id and
trimmed to a per-key cap by ``workflows.memory.OrmMemoryStore``, the only writer.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

__all__ = ["MemoryMessage"]


class MemoryMessage(models.Model):
    class Role(models.TextChoices):
        USER = "user", _("User")
        ASSISTANT = "assistant", _("Assistant")
        SYSTEM = "system", _("System")

    key = models.CharField(
        max_length=255,
        help_text=_("The conversation (a resolved template)."),
        verbose_name=_("key"),
    )
    role = models.CharField(max_length=16, choices=Role.choices, verbose_name=_("role"))
    content = models.TextField(verbose_name=_("content"))
    tokens = models.PositiveIntegerField(
        default=0,
        help_text=_("Tokens of the content in gpt-oss's vocab (for token windows)."),
        verbose_name=_("tokens"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("memory message")
        verbose_name_plural = _("memory messages")
        indexes = [models.Index(fields=["key", "id"], name="workflows_memory_key_id")]

    def __str__(self) -> str:
        return f"{self.key} #{self.pk} ({self.role})"
