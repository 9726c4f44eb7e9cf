"""Take the secrets out of URLs (and of text that quotes them) before they are shown or stored.

An operator may put credentials in a server URL (``http://user:pw@host/v1``,
``...?api_key=...``). Whatever prints or stores such a URL (error messages, the loop
state, audit rows, the Sheets outbox, ``llmcheck``) passes it through ``url_redact``
first, so a secret never leaves the settings.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit, urlunsplit

MASK = "***"

#: Query parameters whose value is a credential (compared lower-case, ``-`` read as ``_``).
SECRET_QUERY_KEYS = frozenset(
    {
        "key",
        "api_key",
        "apikey",
        "token",
        "access_token",
        "auth",
        "password",
        "passwd",
        "pwd",
        "secret",
        "client_secret",
        "signature",
        "sig",
    }
)

# A URL with a scheme and an authority inside free text (an exception message, say).
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s'\"<>()\[\]{}]+")


def _secret_key(name: str) -> bool:
    return name.strip().lower().replace("-", "_") in SECRET_QUERY_KEYS


def url_redact(url: str) -> str:
    """The URL with its user name, password and secret query values replaced by ``***``.

    Anything that does not parse as a URL comes back unchanged: redaction must never
    raise on the error path it protects.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return _userinfo_mask(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        user, colon, _password = userinfo.partition(":")
        # An empty user name stays empty (``redis://:pw@host``): it hides nothing.
        masked = (MASK if user else "") + (f":{MASK}" if colon else "")
        netloc = f"{masked}@{hostport}"
    query = parts.query
    if query and any(_secret_key(name) for name, _ in _chunks(query)):
        query = "&".join(
            f"{name}={MASK}" if _secret_key(name) else chunk
            for chunk, (name, _value) in zip(
                [c for c in query.split("&") if c], _chunks(query), strict=True
            )
        )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _chunks(query: str) -> list[tuple[str, str]]:
    """``name=value`` pairs of a raw query, kept in their original (still-encoded) form."""
    out = []
    for chunk in query.split("&"):
        if not chunk:
            continue
        name, _, value = chunk.partition("=")
        out.append((name, value))
    return out


def _userinfo_mask(text: str) -> str:
    return re.sub(r"(://)[^/@\s]*@", rf"\1{MASK}@", text)


def url_secrets(url: str) -> list[str]:
    """The secret pieces of ``url`` (user, password, secret query values), longest first.

    Used to scrub text that quotes them outside URL form (an HTTP library may echo the
    password on its own, or percent-decoded).
    """
    try:
        parts = urlsplit(url)
        found = [parts.username or "", parts.password or ""]
        found += [value for name, value in _chunks(parts.query) if _secret_key(name)]
    except ValueError:
        return []
    found += [unquote(value) for value in found]
    # Short pieces (a one-letter user name) would mangle ordinary words; they are not
    # secrets anyone could use on their own.
    return sorted({s for s in found if len(s) >= 3}, key=len, reverse=True)


def text_redact(text: str, *, secrets: list[str] | tuple[str, ...] = ()) -> str:
    """``text`` with every URL in it redacted and every one of ``secrets`` masked."""
    text = _URL_IN_TEXT.sub(lambda match: url_redact(match.group(0)), text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, MASK)
    return text
