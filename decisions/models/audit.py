"""The append-only audit log."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class AuditLogIsAppendOnly(Exception):
    """Raised on any attempt to change or delete an audit row."""


class AuditEventQuerySet(models.QuerySet):
    # Bulk paths bypass save()/delete(); close them too. Test-database flushes use
    # raw SQL and are unaffected.
    def update(self, **kwargs: Any) -> int:
        raise AuditLogIsAppendOnly("audit events cannot be changed")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AuditLogIsAppendOnly("audit events cannot be deleted")

    def for_subject(self, obj: models.Model) -> AuditEventQuerySet:
        return self.filter(
            subject_type=ContentType.objects.get_for_model(obj, for_concrete_model=False),
            subject_id=str(obj.pk),
        )


class AuditEvent(models.Model):
    """One thing that happened: who (a user, or null for the system) did what to what.

    Written only by ``decisions.services.audit_log``, inside the transaction of the
    change it records, together with its Sheets outbox row. Never edited or deleted.
    """

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False, verbose_name=_("uuid"))
    action = models.CharField(max_length=100, db_index=True, verbose_name=_("action"))
    # PROTECT: people who acted are deactivated, never deleted, so the trail stays whole.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="audit_events",
        verbose_name=_("actor"),
    )
    subject_type = models.ForeignKey(
        ContentType,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("subject type"),
    )
    subject_id = models.CharField(
        max_length=64, blank=True, default="", verbose_name=_("subject id")
    )
    subject_repr = models.CharField(
        max_length=200, blank=True, default="", verbose_name=_("subject repr")
    )
    data = models.JSONField(
        default=dict, blank=True, encoder=DjangoJSONEncoder, verbose_name=_("data")
    )
    created_at = models.DateTimeField(
        default=timezone.now, db_index=True, verbose_name=_("created at")
    )

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        ordering = ["-id"]
        indexes = [models.Index(fields=["subject_type", "subject_id"], name="audit_subject_idx")]

    def __str__(self) -> str:
        who = self.actor.get_username() if self.actor is not None else "system"
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {who} {self.action}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise AuditLogIsAppendOnly("audit events cannot be changed")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AuditLogIsAppendOnly("audit events cannot be deleted")
