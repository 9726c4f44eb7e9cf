"""The Bot API client (``bizagent.telegram``) against the fake Bot API on loopback: each
method's wire shape, 429 honoured, 5xx retried, other 4xx not, and the token (which sits
in the URL path) never in an error or a log line, whatever failed."""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Iterator

import pytest

from bizagent.retry import RetryPolicy
from bizagent.telegram import TelegramClient, TelegramError, TelegramNotConfiguredError
from tests.decisions.telegram_fake import TOKEN, FakeTelegram

QUICK = RetryPolicy(attempts=3, base_delay=0.5, max_delay=2.0, budget=60.0, jitter="none")


def client_for(fake: FakeTelegram, sleeps: list[float] | None = None, **kw) -> TelegramClient:
    waits = sleeps if sleeps is not None else []
    return TelegramClient(
        token=kw.pop("token", fake.token),
        api_url=kw.pop("api_url", fake.url),
        policy=kw.pop("policy", QUICK),
        sleep=waits.append,
        **kw,
    )


def test_it_speaks_each_method(telegram):
    client = client_for(telegram)
    assert client.get_me().username == "bizagent_test_bot"
    markup = {"inline_keyboard": [[{"text": "Yes", "callback_data": "h1"}]]}
    sent = client.send_message(chat_id=42, text="hello", reply_markup=markup)
    assert telegram.sent[0]["chat"]["id"] == 42
    assert telegram.sent[0]["reply_markup"] == markup
    client.edit_message_text(chat_id=42, message_id=sent["message_id"], text="done")
    client.edit_message_reply_markup(chat_id=42, message_id=sent["message_id"])
    assert [e["message_id"] for e in telegram.edits] == [sent["message_id"]] * 2
    assert client.answer_callback_query(callback_query_id="cq1", text="ok")
    assert telegram.answers == [{"callback_query_id": "cq1", "text": "ok"}]
    first = telegram.update_add(message={"text": "a"})
    second = telegram.update_add(message={"text": "b"})
    assert [u["update_id"] for u in client.get_updates()] == [
        first["update_id"],
        second["update_id"],
    ]
    assert [u["update_id"] for u in client.get_updates(offset=second["update_id"])] == [
        second["update_id"]
    ]
    assert client.set_webhook(url="https://example.com/hook", secret_token="s3cret")
    assert client.get_webhook_info()["url"] == "https://example.com/hook"
    assert client.delete_webhook()
    assert client.get_webhook_info()["url"] == ""


def test_it_waits_retry_after_on_429_then_succeeds(telegram):
    sleeps: list[float] = []
    telegram.fail_next("sendMessage", 429, retry_after=7)
    client_for(telegram, sleeps).send_message(chat_id=1, text="x")
    assert telegram.count("sendMessage") == 2
    assert len(telegram.sent) == 1
    assert sleeps and sleeps[0] >= 7


def test_it_retries_5xx_but_not_other_4xx(telegram):
    telegram.fail_next("sendMessage", 500)
    client_for(telegram).send_message(chat_id=1, text="x")
    assert telegram.count("sendMessage") == 2

    telegram.fail_next("sendMessage", 403)
    with pytest.raises(TelegramError) as caught:
        client_for(telegram).send_message(chat_id=1, text="x")
    assert telegram.count("sendMessage") == 3  # one more: no retry
    assert caught.value.error_code == 403 and not caught.value.transient
    assert "blocked by the user" in str(caught.value)


def test_it_refuses_to_start_without_a_token():
    with pytest.raises(TelegramNotConfiguredError, match="BIZAGENT_TELEGRAM_BOT_TOKEN"):
        TelegramClient(token="")


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A loopback socket that accepts and never answers (a hung Telegram)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


def _closed_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


@pytest.mark.parametrize("failure", ["401", "429", "500", "400", "refused", "timeout"])
def test_the_token_never_reaches_errors_or_logs(telegram, silent_port, caplog, failure):
    caplog.set_level(logging.DEBUG)
    policy = RetryPolicy(attempts=2, base_delay=0.0, budget=60.0, jitter="none")
    client = client_for(telegram, policy=policy)
    read_timeout = 0.0
    if failure == "401":
        client = client_for(telegram, policy=policy, token=TOKEN + "x")
    elif failure in ("429", "500", "400"):
        for _ in range(2):
            telegram.fail_next("getMe", int(failure), retry_after=1 if failure == "429" else None)
    elif failure == "refused":
        client = client_for(telegram, policy=policy, api_url=f"http://127.0.0.1:{_closed_port()}")
    else:
        client = client_for(telegram, policy=policy, api_url=f"http://127.0.0.1:{silent_port}")
        read_timeout = 0.3
    with pytest.raises(TelegramError) as caught:
        client.call("getMe", read_timeout=read_timeout)
    shown = [str(caught.value), repr(caught.value), repr(client), caplog.text]
    chain = caught.value.__cause__ or caught.value.__context__
    while chain is not None:
        shown.append(str(chain))
        chain = chain.__cause__ or chain.__context__
    secret = TOKEN.split(":")[1]
    assert all(secret not in text for text in shown), shown
    assert "getMe" in str(caught.value)
