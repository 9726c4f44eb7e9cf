"""The Telegram Bot API client: a handful of methods on ``requests``, through the one
retry policy (``bizagent.retry``). Infrastructure only: it knows the wire, not decisions.

Wire facts this client relies on (https://core.telegram.org/bots/api):

- Every method is ``POST <api root>/bot<token>/<method>`` with a JSON body; the answer
  is ``{"ok": true, "result": ...}`` or ``{"ok": false, "error_code": N,
  "description": "...", "parameters": {"retry_after": S}}``.
- 429 carries ``parameters.retry_after`` (seconds): honoured as the minimum wait.
- 5xx and network failures may succeed later (retried); any other 4xx will not (a bad
  chat id, a bot blocked by the person, a message too old to edit).

The token sits in the URL path, so every message this module produces goes through
``_scrub``: requests' exceptions quote the URL, and a ``repr`` of the client or of an
error never holds it.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import requests
from django.conf import settings

from bizagent.redact import MASK
from bizagent.retry import Failure, RetryPolicy, call_with_retry

logger = logging.getLogger(__name__)

#: (connect, read) seconds per request; a long poll adds its own timeout to the read.
HTTP_TIMEOUT = (10.0, 30.0)
#: Telegram's default: equal jitter, four tries, half a minute of waiting at most.
TELEGRAM_RETRY = RetryPolicy(
    attempts=4, base_delay=1.0, max_delay=10.0, budget=30.0, jitter="equal"
)
#: ``callback_data`` is 1-64 bytes (Bot API, InlineKeyboardButton).
CALLBACK_DATA_MAX_BYTES = 64


class TelegramError(Exception):
    """A Bot API call failed. The message never holds the token.

    ``transient``: trying later may succeed (429, 5xx, network); ``retry_after``: the
    seconds Telegram asked us to wait; ``error_code``: its HTTP-like code, if it answered.
    """

    def __init__(
        self,
        message: str,
        *,
        transient: bool = False,
        error_code: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.transient = transient
        self.error_code = error_code
        self.retry_after = retry_after


class TelegramNotConfiguredError(TelegramError):
    """``BIZAGENT_TELEGRAM_BOT_TOKEN`` is unset: the channel is off."""


@dataclass(frozen=True)
class BotIdentity:
    """What ``getMe`` says about the bot."""

    id: int
    username: str
    first_name: str


class TelegramClient:
    """One bot's Bot API. Build it with ``telegram_client`` (from settings) or directly."""

    def __init__(
        self,
        *,
        token: str,
        api_url: str = "https://api.telegram.org",
        policy: RetryPolicy = TELEGRAM_RETRY,
        sleep: Callable[[float], None] = time.sleep,
        rand: Callable[[], float] = random.random,
        session: requests.Session | None = None,
    ) -> None:
        if not token:
            raise TelegramNotConfiguredError(
                "Telegram is off: set BIZAGENT_TELEGRAM_BOT_TOKEN (from @BotFather)"
            )
        self._token = token
        self.api_url = api_url.rstrip("/")
        self.policy = policy
        self._sleep = sleep
        self._rand = rand
        self._session = session or requests.Session()

    def __repr__(self) -> str:  # never the token
        return f"TelegramClient(api_url={self.api_url!r})"

    def _scrub(self, text: str) -> str:
        # The token may also appear percent-encoded (its ":" as %3A) in a quoted URL.
        for form in (self._token, self._token.replace(":", "%3A")):
            text = text.replace(form, MASK)
        return text

    # --- transport --------------------------------------------------------------------
    def _call_once(self, method: str, payload: Mapping[str, Any], read_timeout: float) -> Any:
        unreachable = ""
        try:
            response = self._session.post(
                f"{self.api_url}/bot{self._token}/{method}",
                json=dict(payload),
                timeout=(HTTP_TIMEOUT[0], read_timeout),
                # A redirect would carry the token in its path to wherever it points.
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            # requests' messages quote the URL (and so the token): only the class and a
            # scrubbed message leave this function.
            unreachable = f"{type(exc).__name__}: {self._scrub(str(exc))}"
        if unreachable:
            # Raised outside the ``except``: not even ``__context__`` keeps the original.
            raise TelegramError(f"{method}: cannot reach Telegram: {unreachable}", transient=True)
        try:
            document = response.json()
        except ValueError:
            document = None
        if not isinstance(document, dict):
            raise TelegramError(
                f"{method}: Telegram answered HTTP {response.status_code} without a JSON object",
                transient=response.status_code >= 500 or response.status_code == 429,
                error_code=response.status_code,
            )
        if document.get("ok") is True:
            return document.get("result")
        code = document.get("error_code")
        code = code if isinstance(code, int) else response.status_code
        description = self._scrub(str(document.get("description") or "no description"))[:300]
        parameters = document.get("parameters")
        retry_after = parameters.get("retry_after") if isinstance(parameters, dict) else None
        if isinstance(retry_after, bool) or not isinstance(retry_after, int | float):
            retry_after = None
        raise TelegramError(
            f"{method}: Telegram refused it (HTTP {code}): {description}",
            transient=code == 429 or code >= 500,
            error_code=code,
            retry_after=float(retry_after) if retry_after is not None else None,
        )

    def call(
        self, method: str, payload: Mapping[str, Any] | None = None, *, read_timeout: float = 0
    ) -> Any:
        """Call ``method`` with ``payload``; its ``result``, retried by the policy.

        Raises ``TelegramError`` (``transient`` set when a later try may succeed).
        """

        def classify(exc: Exception) -> Failure | None:
            if isinstance(exc, TelegramError):
                return Failure(error=exc, retryable=exc.transient, retry_after=exc.retry_after)
            return None

        def give_up(failure: Failure, attempt: int) -> TelegramError:
            error = failure.error
            assert isinstance(error, TelegramError)
            return TelegramError(
                f"gave up after {attempt} attempts ({self.policy.budget:.0f}s retry budget): "
                f"{error}",
                transient=True,
                error_code=error.error_code,
                retry_after=error.retry_after,
            )

        return call_with_retry(
            lambda: self._call_once(method, payload or {}, read_timeout or HTTP_TIMEOUT[1]),
            policy=self.policy,
            classify=classify,
            what=f"telegram: {method}",
            on_give_up=give_up,
            sleep=self._sleep,
            rand=self._rand,
        )

    # --- methods ----------------------------------------------------------------------
    def get_me(self) -> BotIdentity:
        result = self.call("getMe")
        if not isinstance(result, dict) or not result.get("username"):
            raise TelegramError("getMe: the answer has no bot username")
        return BotIdentity(
            id=int(result.get("id") or 0),
            username=str(result["username"]),
            first_name=str(result.get("first_name") or ""),
        )

    def send_message(
        self, *, chat_id: int, text: str, reply_markup: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        payload: dict[str, Any] = {"chat_id": chat_id, "text": text}
        if reply_markup:
            payload["reply_markup"] = dict(reply_markup)
        return self._message(self.call("sendMessage", payload), "sendMessage")

    def edit_message_text(
        self,
        *,
        chat_id: int,
        message_id: int,
        text: str,
        reply_markup: Mapping[str, Any] | None = None,
    ) -> Any:
        payload: dict[str, Any] = {"chat_id": chat_id, "message_id": message_id, "text": text}
        if reply_markup is not None:
            payload["reply_markup"] = dict(reply_markup)
        return self.call("editMessageText", payload)

    def edit_message_reply_markup(
        self, *, chat_id: int, message_id: int, reply_markup: Mapping[str, Any] | None = None
    ) -> Any:
        payload: dict[str, Any] = {"chat_id": chat_id, "message_id": message_id}
        if reply_markup is not None:
            payload["reply_markup"] = dict(reply_markup)
        return self.call("editMessageReplyMarkup", payload)

    def answer_callback_query(self, *, callback_query_id: str, text: str = "") -> bool:
        payload: dict[str, Any] = {"callback_query_id": callback_query_id}
        if text:
            payload["text"] = text[:200]  # Telegram's limit for a callback answer
        return bool(self.call("answerCallbackQuery", payload))

    def get_updates(self, *, offset: int | None = None, timeout: int = 0) -> list[dict[str, Any]]:
        """Updates from ``offset`` on; ``timeout`` seconds of long polling (0: short)."""
        payload: dict[str, Any] = {
            "timeout": timeout,
            "allowed_updates": ["message", "callback_query"],
        }
        if offset is not None:
            payload["offset"] = offset
        result = self.call("getUpdates", payload, read_timeout=HTTP_TIMEOUT[1] + timeout)
        if not isinstance(result, list):
            raise TelegramError("getUpdates: the answer is not a list")
        return [update for update in result if isinstance(update, dict)]

    def set_webhook(self, *, url: str, secret_token: str) -> bool:
        return bool(self.call("setWebhook", {"url": url, "secret_token": secret_token}))

    def delete_webhook(self) -> bool:
        return bool(self.call("deleteWebhook", {}))

    def get_webhook_info(self) -> dict[str, Any]:
        result = self.call("getWebhookInfo")
        return result if isinstance(result, dict) else {}

    @staticmethod
    def _message(result: Any, method: str) -> dict[str, Any]:
        if not isinstance(result, dict) or not isinstance(result.get("message_id"), int):
            raise TelegramError(f"{method}: the answer is not a message")
        return result


def telegram_client(**overrides: Any) -> TelegramClient:
    """The client for ``BIZAGENT_TELEGRAM_BOT_TOKEN`` at ``BIZAGENT_TELEGRAM_API_URL``."""
    return TelegramClient(
        token=settings.TELEGRAM_BOT_TOKEN or "",
        api_url=settings.TELEGRAM_API_URL,
        **overrides,
    )


def telegram_enabled() -> bool:
    return bool(settings.TELEGRAM_BOT_TOKEN)
