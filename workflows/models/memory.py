"""Conversation memory for the ``memory-buffer`` block: messages kept per key.

A key is a resolved template (``user-42-thread-7``); rows are read newest first by id and
trimmed to a per-key cap by ``workflows.memory.OrmMemoryStore``, the only writer.
"""

from __future__ import annotations

from django.db import models

__all__ = ["MemoryMessage"]


class MemoryMessage(models.Model):
    class Role(models.TextChoices):
        USER = "user", "User"
        ASSISTANT = "assistant", "Assistant"
        SYSTEM = "system", "System"

    key = models.CharField(max_length=255, help_text="The conversation (a resolved template).")
    role = models.CharField(max_length=16, choices=Role.choices)
    content = models.TextField()
    tokens = models.PositiveIntegerField(
        default=0, help_text="Tokens of the content in gpt-oss's vocab (for token windows)."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["key", "id"], name="workflows_memory_key_id")]

    def __str__(self) -> str:
        return f"{self.key} #{self.pk} ({self.role})"
