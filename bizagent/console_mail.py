"""The console mail backend (used when ``EMAIL_HOST`` is unset), without live links.

Django's console backend prints every mail to stdout, which ends up in the server's
log; a new-decision mail holds a personal single-use link that lets its reader decide.
This backend prints the mail with each link's token redacted and says so, so someone
reading the log learns a decision is waiting and can decide in the admin, but cannot
use the link. The message handed in is not changed.
"""

from __future__ import annotations

import copy

from django.core.mail import EmailMessage, EmailMultiAlternatives
from django.core.mail.backends.console import EmailBackend
from django.core.mail.message import EmailAlternative

from bizagent.logredact import link_tokens_redact

NOTE = (
    "[bizagent: decision links in this mail are redacted in the console output; "
    "decide in the admin instead]\n"
)


class RedactingConsoleBackend(EmailBackend):
    """Print mails like Django's console backend, with decision-link tokens redacted."""

    def write_message(self, message: EmailMessage) -> None:
        # Redact the text parts before serialisation: a long or non-ASCII body is
        # quoted-printable or base64 on the wire, where a token cannot be found reliably.
        printed = copy.copy(message)
        printed.body = link_tokens_redact(str(message.body or ""))
        alternatives = getattr(message, "alternatives", None)
        # Only an EmailMultiAlternatives carries alternatives (Django's html mails are one).
        if alternatives and isinstance(printed, EmailMultiAlternatives):
            printed.alternatives = [
                EmailAlternative(
                    link_tokens_redact(content) if isinstance(content, str) else content,
                    mimetype,
                )
                for content, mimetype in alternatives
            ]
        if printed.body != message.body or getattr(printed, "alternatives", None) != alternatives:
            self.stream.write(NOTE)
        super().write_message(printed)
