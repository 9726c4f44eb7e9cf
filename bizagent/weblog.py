"""gunicorn's logger, with decision-link tokens redacted (``bizagent.logredact``).

``manage.py serve`` passes ``--logger-class bizagent.weblog.RedactingLogger``. The access
log line is built from atoms (request line, path, referer, headers, environ) that all may
carry a link's token, and the error log names request URIs; the filter sits on both
loggers, so every formatted line is redacted whatever ``--access-logformat`` says.
"""

from __future__ import annotations

from gunicorn.config import Config
from gunicorn.glogging import Logger

from bizagent.logredact import LinkTokenFilter

# One instance: setup() runs again on a reload, and addFilter skips one already there.
_FILTER = LinkTokenFilter()


class RedactingLogger(Logger):
    """gunicorn's standard logger whose access and error lines carry no link token."""

    def setup(self, cfg: Config) -> None:
        super().setup(cfg)
        self.access_log.addFilter(_FILTER)
        self.error_log.addFilter(_FILTER)
