"""Who hears of an event on which channel: the one place senders ask.

Every sender (decision mails, reminders, expiry and outcome notices on both channels,
goal report mails, goal reports and anomalies on Telegram) calls ``notify_recipients``
with the event and the people who may hear of it, and sends to what comes back. A
person's choice is ``NotificationPreference`` (the default when they never chose).
Telegram counts only for a linked account: a person who chose Telegram and is not (or
no longer) linked gets email instead, so unlinking never silently stops their decisions.

``notify_prefs_update`` is the one writer: all the choices checked first (nothing half
written), the person's rows locked, changed, and audited in one transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from decisions.actors import Person
from decisions.models import NotificationPreference, TelegramLink
from decisions.selectors import decision_approvers, decision_mail_recipients
from decisions.services.audit import audit_log

Event = NotificationPreference.Event
Channel = NotificationPreference.Channel
EMAIL_CHANNELS = (Channel.EMAIL, Channel.BOTH)
TELEGRAM_CHANNELS = (Channel.TELEGRAM, Channel.BOTH)
#: Anomalies that need an answer already arrive as decisions (by their own events); the
#: separate anomaly notice is a short Telegram message, so email is not offered for it.
ALLOWED: dict[str, tuple[str, ...]] = {
    **{event: tuple(Channel.values) for event in Event.values},
    Event.ANOMALY: (Channel.TELEGRAM, Channel.NONE),
}


@dataclass
class Recipients:
    """Who gets one event: by email (people with an address) and on Telegram (links)."""

    email: list[Person] = field(default_factory=list)
    telegram: list[TelegramLink] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.email or self.telegram)


def notify_prefs_get(*, user: Person) -> dict[str, str]:
    """The person's channel per event, defaults filled in (as stored, linked or not)."""
    stored = dict(
        NotificationPreference.objects.filter(user_id=user.pk).values_list("event", "channel")
    )
    return {event: stored.get(event, NotificationPreference.DEFAULTS[event]) for event in Event}


def notify_recipients(*, event: str, people: Iterable[Person] | None = None) -> Recipients:
    """Who gets ``event`` by email and on Telegram, by each person's preference.

    ``people`` are those who may hear of it; by default the approvers: email to
    ``decision_mail_recipients`` (an address, the approver group when set), Telegram
    to every approver with a linked account. Each person at most once per channel.
    """
    if event not in Event.values:
        raise ValueError(f"unknown notification event {event!r}; known: {', '.join(Event)}")
    if people is None:
        mailable = {user.pk for user in decision_mail_recipients()}
        candidates = list(decision_approvers())
    else:
        candidates = list({person.pk: person for person in people if person is not None}.values())
        mailable = {person.pk for person in candidates if person.is_active and person.email}
    ids = [person.pk for person in candidates]
    chosen = dict(
        NotificationPreference.objects.filter(user_id__in=ids, event=event).values_list(
            "user_id", "channel"
        )
    )
    links = {
        link.user_id: link
        for link in TelegramLink.objects.filter(user_id__in=ids).select_related("user")
    }
    result = Recipients()
    default = NotificationPreference.DEFAULTS[event]
    for person in candidates:
        channel = chosen.get(person.pk, default)
        link = links.get(person.pk)
        if link is None and channel == Channel.TELEGRAM and event != Event.ANOMALY:
            channel = Channel.EMAIL  # not linked (any more): never silently nothing
        if channel in EMAIL_CHANNELS and person.pk in mailable:
            result.email.append(person)
        if channel in TELEGRAM_CHANNELS and link is not None and person.is_active:
            result.telegram.append(link)
    return result


def notify_prefs_update(
    *, user: Person, choices: Mapping[str, str], actor: Person | None = None
) -> dict[str, tuple[str, str]]:
    """Set the person's channel per event; returns what changed (event: (old, new)).

    Raises ``ValidationError`` naming every unknown event, unknown channel, a channel
    not offered for an event, or Telegram newly chosen without a linked account; then nothing
    is written. The change is audited (``decisions.notify_prefs_changed``) in the same
    transaction as the rows, under a lock on the person's rows.
    """
    errors: list[str] = []
    linked = TelegramLink.objects.filter(user_id=user.pk).exists()
    # A choice kept as it is (the default "both" for decisions, a Telegram choice made
    # before unlinking) is not refused: it reads as email until the person links again.
    before = notify_prefs_get(user=user)
    for event, channel in choices.items():
        if event not in Event.values:
            errors.append(_("“%(event)s” is not a notification event.") % {"event": event})
        elif channel not in Channel.values:
            errors.append(
                _("%(event)s: “%(channel)s” is not a channel.")
                % {"event": Event(event).label, "channel": channel}
            )
        elif channel not in ALLOWED[event]:
            offered = ", ".join(str(Channel(c).label) for c in ALLOWED[event])
            errors.append(
                _("%(event)s: choose one of %(offered)s.")
                % {"event": Event(event).label, "offered": offered}
            )
        elif channel in TELEGRAM_CHANNELS and not linked and channel != before[event]:
            errors.append(
                _("%(event)s: Telegram needs a linked account (Link Telegram first).")
                % {"event": Event(event).label}
            )
    if errors:
        raise ValidationError(errors)
    now = timezone.now()
    with transaction.atomic():
        # Locks the person's rows; a first save races on the unique constraint instead.
        current = {
            row.event: row
            for row in NotificationPreference.objects.select_for_update().filter(user_id=user.pk)
        }
        changed: dict[str, tuple[str, str]] = {}
        for event, channel in choices.items():
            row = current.get(event)
            old = row.channel if row else NotificationPreference.DEFAULTS[event]
            if row is None:
                if channel == old:
                    continue
                NotificationPreference.objects.create(
                    user_id=user.pk, event=event, channel=channel, updated_at=now
                )
            elif row.channel != channel:
                NotificationPreference.objects.filter(pk=row.pk).update(
                    channel=channel, updated_at=now
                )
            else:
                continue
            changed[event] = (old, channel)
        if changed:
            audit_log(
                action="decisions.notify_prefs_changed",
                actor=actor or user,
                subject=user,
                data={event: {"from": old, "to": new} for event, (old, new) in changed.items()},
            )
    return changed
