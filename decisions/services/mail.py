"""Decision mails: new decision, reminder, expiry and outcome, to the approvers.

``decision_notify`` is called by ``decisions.tasks.decision_notify_task`` (django-q2,
at least once), never inside a transaction. Each mail is recorded in ``DecisionMail``
before it is sent and marked after, so a redelivered task re-sends only what did not
go out. New-decision and reminder mails carry a personal link
(``decisions.services.links``). Who is mailed is ``decisions.selectors``' one approver
rule.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.mail import get_connection
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy

from bizagent.leases import lease_claim, lease_release
from bizagent.notify import email_send, message_language
from decisions.actors import Person
from decisions.models import Decision, DecisionMail
from decisions.selectors import decision_approvers, decision_mail_recipients, decision_summary
from decisions.services.audit import audit_log
from decisions.services.links import decision_link_issue, decision_link_token
from decisions.services.notify_prefs import notify_recipients

if TYPE_CHECKING:
    from django.utils.functional import _StrPromise as StrPromise

logger = logging.getLogger(__name__)

EVENTS = tuple(DecisionMail.Event.values)
# Events whose mail carries a link to decide.
LINK_EVENTS = (DecisionMail.Event.REQUESTED, DecisionMail.Event.REMINDER)
# How long one delivery holds a mail it is sending: far longer than an SMTP exchange
# (EMAIL_TIMEOUT), shorter than django-q2's redelivery of a task whose worker died.
MAIL_LEASE = timedelta(minutes=10)
# A reminder task delivered twice within this window mails once.
REMINDER_DEDUPE_WINDOW = timedelta(minutes=30)
# Lazy: each is read in the language of the mail or message it heads (``message_language``).
SUBJECTS: dict[str, StrPromise] = {
    DecisionMail.Event.REQUESTED: gettext_lazy("Decision needed: {title}"),
    DecisionMail.Event.REMINDER: gettext_lazy("Reminder, decision still open: {title}"),
    DecisionMail.Event.EXPIRED: gettext_lazy("Decision expired without an answer: {title}"),
    DecisionMail.Event.OUTCOME: gettext_lazy("Decision {outcome}: {title}"),
    DecisionMail.Event.SUPERSEDED: gettext_lazy("Decision superseded by a newer proposal: {title}"),
}


def _mail_claim(
    *, decision: Decision, recipient: Person, event: str, now: datetime, owner: str
) -> DecisionMail | None:
    """The mail row to send for this recipient, leased to ``owner``; None when it already
    went out or another delivery of the task is sending it now (its lease is live)."""
    mails = DecisionMail.objects.filter(decision=decision, recipient=recipient, event=event)
    if event == DecisionMail.Event.REMINDER:
        mails = mails.filter(created_at__gte=now - REMINDER_DEDUPE_WINDOW)
    existing = mails.order_by("-id").first()
    if existing is not None:
        if existing.sent_at:
            return None
        return existing if _mail_lease(mail=existing, owner=owner, now=now) else None
    link = None
    with transaction.atomic():
        if event in LINK_EVENTS:
            link = decision_link_issue(decision=decision, recipient=recipient, now=now)
        mail = DecisionMail(
            decision=decision, recipient=recipient, event=event, link=link, created_at=now
        )
        mail.full_clean(validate_unique=False, validate_constraints=False)
        try:
            with transaction.atomic():
                mail.save()
        except IntegrityError:
            # A concurrent delivery of the same task created it first; it sends.
            return None
    return mail if _mail_lease(mail=mail, owner=owner, now=now) else None


def _mail_lease(*, mail: DecisionMail, owner: str, now: datetime) -> bool:
    return bool(
        lease_claim(
            DecisionMail.objects.filter(pk=mail.pk, sent_at__isnull=True),
            owner=owner,
            now=now,
            duration=MAIL_LEASE,
        )
    )


def _mail_context(*, mail: DecisionMail, decision: Decision, summary: Any) -> dict:
    context = {
        "decision": summary,
        "recipient": mail.recipient,
        "event": mail.event,
        "site_url": settings.SITE_URL,
        "admin_url": settings.SITE_URL
        + reverse("admin:decisions_decision_change", args=[decision.pk]),
        "superseded_by": decision.superseded_by_id,
    }
    if mail.link is not None:
        token = decision_link_token(link=mail.link)
        context["link_url"] = settings.SITE_URL + reverse(
            "decisions:link", kwargs={"decision_id": decision.pk, "token": token}
        )
        context["link_expires_at"] = mail.link.expires_at
    return context


def decision_notify(*, decision_id: int, event: str, now: datetime | None = None) -> int:
    """Mail the approvers who chose email for ``event`` (``notify_recipients``; the
    superseded notice goes to those mailed the decision); returns the number sent.

    Each mail is written in its recipient's ``message_language`` (their Profile, else
    BIZAGENT_LANGUAGE).
    Idempotent: recipients who already got this mail are skipped, so django-q2 may
    deliver the task again after a crash or an SMTP failure (which is re-raised).
    """
    with translation.override(message_language()):
        return _decision_notify(decision_id=decision_id, event=event, now=now)


def _decision_notify(*, decision_id: int, event: str, now: datetime | None) -> int:
    if event not in EVENTS:
        raise ValueError(f"unknown decision mail event {event!r}; known: {', '.join(EVENTS)}")
    now = now or timezone.now()
    decision = Decision.objects.get(pk=decision_id)
    if event in LINK_EVENTS and not decision_summary(decision)["is_open"]:
        logger.info("decisions: no %s mail for decision %s: no longer open", event, decision_id)
        return 0
    if event == DecisionMail.Event.SUPERSEDED:
        # Only those who were asked about it need to hear it is off the table.
        recipients = list(
            decision_mail_recipients()
            .filter(decision_mails__decision=decision, decision_mails__sent_at__isnull=False)
            .distinct()
        )
    else:
        # Each person's preference: email, Telegram, both or nothing for this event.
        audience = notify_recipients(event=event)
        recipients = audience.email
        if event in LINK_EVENTS and not recipients and audience.telegram:
            return 0  # everyone asked for Telegram only: delivered there, not a failure
    if event in LINK_EVENTS and not recipients:
        _delivery_failed(decision=decision, event=event)
        return 0
    owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"[:100]
    mails = [
        mail
        for recipient in recipients
        if (
            mail := _mail_claim(
                decision=decision, recipient=recipient, event=event, now=now, owner=owner
            )
        )
    ]
    if not mails:
        return 0
    sent = 0
    failures: list[Exception] = []
    # The decision as worded in each language, read once per language, not per mail.
    summaries: dict[str, Any] = {}
    with get_connection() as connection:
        for mail in mails:
            try:
                # Each recipient reads it in their own language (their Profile).
                language = message_language(mail.recipient)
                with translation.override(language):
                    if language not in summaries:
                        summaries[language] = decision_summary(decision)
                    summary = summaries[language]
                    subject = str(SUBJECTS[event]).format(
                        title=summary["title"], outcome=summary["outcome_label"]
                    )
                    email_send(
                        to=[mail.recipient.email],
                        subject=subject,
                        template=f"decisions/email/{event}",
                        context=_mail_context(mail=mail, decision=decision, summary=summary),
                        connection=connection,
                    )
            except Exception as exc:
                failures.append(exc)
                # Not sent: give it back so the retried task sends it at once.
                lease_release(DecisionMail.objects.filter(pk=mail.pk), owner=owner)
                logger.warning(
                    "decisions: %s mail for decision %s to user %s failed: %s",
                    event,
                    decision_id,
                    mail.recipient_id,
                    type(exc).__name__,
                )
                continue
            lease_release(
                DecisionMail.objects.filter(pk=mail.pk, sent_at__isnull=True),
                owner=owner,
                sent_at=timezone.now(),
            )
            sent += 1
    if sent and event in LINK_EVENTS:
        _delivery_restored(decision=decision, event=event, recipients=sent)
    if failures:
        raise failures[0]
    return sent


def undelivered_reason() -> str:
    """Why no approver can be mailed about a decision now, for people (the admin shows it)."""
    approvers_now = decision_approvers()
    if not approvers_now.exists():
        return "Not delivered to anyone: nobody holds the approve permission."
    if settings.APPROVER_GROUP and approvers_now.exclude(email="").exists():
        return (
            "Not delivered to anyone: no approver with an email address is in the group "
            f"“{settings.APPROVER_GROUP}” (BIZAGENT_APPROVER_GROUP)."
        )
    if decision_mail_recipients().exists():
        return (
            "Not delivered to anyone: every approver turned these notices off "
            "(Notifications, in the admin's user menu)."
        )
    return "Not delivered to anyone: no approver has an email address."


def _delivery_failed(*, decision: Decision, event: str) -> None:
    """Record on the decision that its mail reached nobody; audited once per reason."""
    reason = undelivered_reason()
    logger.warning("decisions: %s mail for decision %s: %s", event, decision.pk, reason)
    with transaction.atomic():
        # Compare-and-set: a redelivered task or the next reminder finds it recorded.
        changed = (
            Decision.objects.filter(pk=decision.pk)
            .exclude(undelivered_reason=reason)
            .update(undelivered_reason=reason)
        )
        if changed:
            audit_log(
                action="decisions.decision_undelivered",
                subject=decision,
                data={"event": event, "reason": reason},
            )


def _delivery_restored(*, decision: Decision, event: str, recipients: int) -> None:
    """Clear an earlier "not delivered" note once a mail went out."""
    with transaction.atomic():
        changed = (
            Decision.objects.filter(pk=decision.pk)
            .exclude(undelivered_reason="")
            .update(undelivered_reason="")
        )
        if changed:
            logger.info(
                "decisions: decision %s delivered by its %s mail after all", decision.pk, event
            )
            audit_log(
                action="decisions.decision_delivered",
                subject=decision,
                data={"event": event, "recipients": recipients},
            )
