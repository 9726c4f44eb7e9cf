"""Signed, expiring, single-use decision links for email.

A token is ``django.core.signing`` (a salted ``TimestampSigner``) over
``{"d": decision id, "u": recipient id, "n": nonce}``. The signature makes it
unforgeable and bounds its age; the ``DecisionLink`` row with that nonce makes it
single-use and bound to the decision and the recipient, and stores the expiry
``min(link max age, decision due)``.

Opening a link (GET) only checks it: mail scanners follow links. Deciding (POST) consumes
it with a compare-and-set in the same transaction as the decision, so a decision that
fails leaves the link unused, and two POSTs of one link decide once.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from decisions.actors import Actor, Person
from decisions.models import Decision, DecisionLink
from decisions.selectors import decision_summary, user_may_decide
from decisions.services.decisions import DecisionNotPending, decision_approve, decision_reject

logger = logging.getLogger(__name__)

SALT = "decisions.link.v1"


class LinkRefused(Exception):
    """The link cannot be used.

    ``code`` is stable (templates and tests); ``message`` is for people, in the language
    active where it is shown (lazy: the page renders it in the reader's language).
    """

    MESSAGES = {
        "invalid": _("This link is not valid. It may have been cut off or altered."),
        "expired": _("This link has expired. Open the decision in the admin instead."),
        "used": _("This link has already been used. Each link works once."),
        "wrong_decision": _("This link belongs to a different decision."),
        "wrong_user": _("This link was sent to someone else. Sign out, or use your own link."),
        "not_permitted": _("You are no longer allowed to decide on approvals."),
        "closed": _("This decision was already decided, or is no longer waiting for an answer."),
    }

    def __init__(self, code: str, decision: Decision | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.decision = decision
        self.message = self.MESSAGES[code]


@dataclass(frozen=True)
class LinkGrant:
    """A checked link: who may decide on which decision, until when."""

    link: DecisionLink
    decision: Decision
    recipient: Person


def link_max_age() -> timedelta:
    return timedelta(hours=settings.DECISION_LINK_MAX_AGE_HOURS)


def decision_link_issue(
    *, decision: Decision, recipient: Person, now: datetime | None = None
) -> DecisionLink:
    """Record a new single-use link for ``recipient`` on ``decision``."""
    now = now or timezone.now()
    expires_at = now + link_max_age()
    due = decision_summary(decision)["due_at"]
    if due is not None:
        expires_at = min(expires_at, due)
    link = DecisionLink(
        decision=decision,
        recipient=recipient,
        nonce=secrets.token_urlsafe(32),
        expires_at=expires_at,
        created_at=now,
    )
    link.full_clean()
    link.save()
    return link


def decision_link_token(*, link: DecisionLink) -> str:
    """The signed token for ``link`` (what goes into the mailed URL)."""
    payload = {"d": link.decision_id, "u": link.recipient_id, "n": link.nonce}
    return signing.dumps(payload, salt=SALT, compress=True)


def decision_link_check(
    *,
    token: str,
    decision_id: int,
    user: Actor = None,
    now: datetime | None = None,
) -> LinkGrant:
    """Check a token without changing anything; raise ``LinkRefused`` with the reason.

    ``user`` is whoever is signed in to the site, if anyone: a link opened in someone
    else's session is refused rather than acting as the wrong person.
    """
    now = now or timezone.now()
    try:
        payload = signing.loads(token, salt=SALT, max_age=link_max_age())
    except signing.SignatureExpired:
        raise LinkRefused("expired") from None
    except signing.BadSignature:
        raise LinkRefused("invalid") from None
    if not isinstance(payload, dict) or not {"d", "u", "n"} <= payload.keys():
        raise LinkRefused("invalid")
    if payload["d"] != decision_id:
        raise LinkRefused("wrong_decision")
    link = (
        DecisionLink.objects.select_related("decision", "recipient")
        .filter(nonce=payload["n"], decision_id=payload["d"], recipient_id=payload["u"])
        .first()
    )
    if link is None:
        raise LinkRefused("invalid")
    decision = link.decision
    if link.used_at is not None:
        raise LinkRefused("used", decision)
    if now >= link.expires_at:
        raise LinkRefused("expired", decision)
    if user is not None and user.is_authenticated and user.pk != link.recipient_id:
        raise LinkRefused("wrong_user", decision)
    recipient = get_user_model().objects.get(pk=link.recipient_id)
    if not user_may_decide(recipient):
        raise LinkRefused("not_permitted", decision)
    if not decision_summary(decision)["is_open"]:
        raise LinkRefused("closed", decision)
    return LinkGrant(link=link, decision=decision, recipient=recipient)


def decision_link_decide(
    *,
    token: str,
    decision_id: int,
    approve: bool,
    option_key: str = "",
    comment: str = "",
    user: Actor = None,
    now: datetime | None = None,
) -> Decision:
    """Approve or reject through a link, as its recipient; the link is spent on success.

    Raises ``LinkRefused`` for a bad, used, expired or foreign link, and whatever
    ``decision_approve``/``decision_reject`` raise (the link then stays unused).
    """
    now = now or timezone.now()
    grant = decision_link_check(token=token, decision_id=decision_id, user=user, now=now)
    try:
        with transaction.atomic():
            spent = DecisionLink.objects.filter(
                pk=grant.link.pk, used_at__isnull=True, expires_at__gt=now
            ).update(used_at=now, used_action="approve" if approve else "reject")
            if spent != 1:
                # Another request used it between our check and here.
                raise LinkRefused("used", grant.decision)
            if approve:
                decision = decision_approve(
                    decision_id=decision_id,
                    user=grant.recipient,
                    option_key=option_key,
                    comment=comment,
                    via="email link",
                )
            else:
                decision = decision_reject(
                    decision_id=decision_id,
                    user=grant.recipient,
                    comment=comment,
                    via="email link",
                )
    except DecisionNotPending:
        # Someone else (another link, the admin) decided between our check and our lock.
        # The loser is told it was already decided, as any later visitor is; its link was
        # rolled back with the refused transition and stays unused.
        raise LinkRefused("closed", Decision.objects.get(pk=decision_id)) from None
    logger.info(
        "decisions: decision %s %s by user %s through an email link",
        decision_id,
        "approved" if approve else "rejected",
        grant.recipient.pk,
    )
    return decision if isinstance(decision, Decision) else Decision.objects.get(pk=decision_id)
