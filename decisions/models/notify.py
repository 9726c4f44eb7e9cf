"""Per-person notification preferences: which events reach a person on which channel.

A missing row means the default (``NotificationPreference.DEFAULTS``), so a person who
never opened the page gets what everyone got before preferences existed. Only
``decisions.services.notify_prefs`` writes these rows.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class NotificationPreference(models.Model):
    """One person's channel for one event."""

    class Event(models.TextChoices):
        REQUESTED = "requested", _("New decision")
        REMINDER = "reminder", _("Reminder of an open decision")
        EXPIRED = "expired", _("Decision expired unanswered")
        OUTCOME = "outcome", _("Decision outcome")
        GOAL_REPORT = "goal_report", _("Goal reports")
        ANOMALY = "anomaly", _("Goal anomalies")

    class Channel(models.TextChoices):
        EMAIL = "email", _("Email")
        TELEGRAM = "telegram", _("Telegram")
        BOTH = "both", _("Email and Telegram")
        NONE = "none", _("Nothing")

    #: Today's behaviour before anyone chooses: decision mails as ever, and decisions
    #: with buttons on Telegram for those who linked an account (the first half of the
    #: channel did that); goal reports by email; anomalies already arrive as decisions
    #: when they need an answer, so no separate notice unless asked for.
    DEFAULTS: dict[str, str] = {
        Event.REQUESTED: Channel.BOTH,
        Event.REMINDER: Channel.BOTH,
        Event.EXPIRED: Channel.EMAIL,
        Event.OUTCOME: Channel.EMAIL,
        Event.GOAL_REPORT: Channel.EMAIL,
        Event.ANOMALY: Channel.NONE,
    }

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="notification_preferences",
        verbose_name=_("user"),
    )
    event = models.CharField(max_length=20, choices=Event.choices, verbose_name=_("event"))
    channel = models.CharField(max_length=10, choices=Channel.choices, verbose_name=_("channel"))
    updated_at = models.DateTimeField(default=timezone.now, verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("notification preference")
        verbose_name_plural = _("notification preferences")
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "event"], name="notifypref_user_event_uniq")
        ]

    def __str__(self) -> str:
        return f"{self.event} by {self.channel} for user {self.user_id}"
