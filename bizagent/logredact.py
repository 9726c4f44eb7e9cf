"""Keep live decision-link tokens and internal API tokens out of every log line.

A mailed decision link (``/decisions/<id>/link/<token>/``) lets whoever holds it decide,
once, until it expires. Request lines, referers, "Bad Request: /path" warnings and
tracebacks would otherwise copy it into logs that more people can read than the mail.
``link_tokens_redact`` is the one rule; ``LinkTokenFilter`` applies it to log records
(Django's LOGGING and gunicorn's loggers, ``bizagent.weblog``), and the console mail
backend (``bizagent.console_mail``) to printed mails.
"""

from __future__ import annotations

import logging
import re

# The link URL's shape (decisions/urls.py, mounted under /decisions/ by bizagent/urls.py).
# The token ends at the next path, query, fragment or quoting character.
LINK_TOKEN = re.compile(r"(/\d+/link/)[^/\s?#\"'<>]+")
REDACTED = r"\1[redacted]"

#: A workflow run's internal API token (``workflows.internal_token``) is a bearer
#: credential too; its fixed prefix makes it recognisable wherever it ends up.
INTERNAL_TOKEN_PREFIX = "bzit1."  # noqa: S105 - a prefix, not a secret
#: ``signing.dumps`` output is URL-safe base64 plus ``:`` separators.
INTERNAL_TOKEN = re.compile(re.escape(INTERNAL_TOKEN_PREFIX) + r"[A-Za-z0-9_\-:.]+")


def link_tokens_redact(text: str) -> str:
    """``text`` with every decision-link token and internal API token made ``[redacted]``."""
    return INTERNAL_TOKEN.sub("[redacted]", LINK_TOKEN.sub(REDACTED, text))


class LinkTokenFilter(logging.Filter):
    """Redact link tokens from a record's message and traceback; never drops a record.

    On a handler it covers every record the handler writes, whichever logger made it
    (filters on a logger would miss records propagated from its children).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: leave it for the handler to report
            return True
        redacted = link_tokens_redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            # Formatters reuse exc_text; rendering it here lets the traceback be redacted.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = link_tokens_redact(record.exc_text)
        if record.stack_info:
            record.stack_info = link_tokens_redact(record.stack_info)
        return True
