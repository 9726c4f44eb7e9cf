"""The Telegram outbox (``telegram_enqueue`` + ``telegram_outbox_deliver``) against the
fake Bot API: in order per chat, one message a second per chat, 429 pushes the next try,
a crash between Telegram's answer and the mark re-sends once *marked* as a repeat,
and an outage of hours loses and doubles nothing."""

from __future__ import annotations

import socket
from datetime import timedelta

import pytest
import time_machine
from django.apps import apps
from django.db import connection
from django.utils import timezone

from bizagent.retry import RetryPolicy
from bizagent.telegram import TelegramClient
from decisions.models import TelegramMessage
from decisions.services.telegram import (
    MAX_BACKOFF,
    RESENT_NOTE,
    SEND_LEASE,
    telegram_decision_notify,
    telegram_enqueue,
    telegram_link_token_issue,
    telegram_outbox_deliver,
    telegram_outbox_drain,
    telegram_update_handle,
)
from decisions.services.telegram import outbox as service
from tests.decisions.telegram_fake import TOKEN, FakeTelegram

pytestmark = pytest.mark.django_db

ONCE = RetryPolicy(attempts=1, budget=0.0, jitter="none")


def client(fake: FakeTelegram) -> TelegramClient:
    return TelegramClient(token=fake.token, api_url=fake.url, policy=ONCE, sleep=lambda s: None)


def enqueue(chat: int, text: str) -> TelegramMessage:
    message = telegram_enqueue(
        chat_id=chat, text=text, purpose="reply", dedupe_key=f"{chat}:{text}"
    )
    assert message is not None
    return message


def test_it_sends_and_marks_each_row_once(telegram):
    row = enqueue(1, "hello")
    assert telegram_outbox_deliver(client=client(telegram)).sent == 1
    row.refresh_from_db()
    assert row.status == TelegramMessage.Status.SENT
    assert row.sent_message_id == telegram.sent[0]["message_id"]
    assert row.attempts == 1
    assert telegram_outbox_deliver(client=client(telegram)).sent == 0
    assert len(telegram.sent) == 1


def test_a_dedupe_key_records_one_row():
    assert telegram_enqueue(chat_id=1, text="a", purpose="reply", dedupe_key="k") is not None
    assert telegram_enqueue(chat_id=1, text="a", purpose="reply", dedupe_key="k") is None
    assert TelegramMessage.objects.count() == 1


def test_one_chat_gets_at_most_one_message_a_second(telegram):
    first, second = enqueue(1, "one"), enqueue(1, "two")
    other = enqueue(2, "elsewhere")
    now = timezone.now()
    report = telegram_outbox_deliver(client=client(telegram), now=now)
    assert report.sent == 2  # chat 1's first and chat 2's
    assert telegram_outbox_deliver(client=client(telegram), now=now).sent == 0
    second.refresh_from_db()
    assert second.status == TelegramMessage.Status.PENDING
    assert second.next_attempt_at == now + timedelta(seconds=1)
    assert (
        telegram_outbox_deliver(client=client(telegram), now=now + timedelta(seconds=1)).sent == 1
    )
    assert [m["text"] for m in telegram.sent] == ["one", "elsewhere", "two"]
    assert {first.pk, other.pk} < set(TelegramMessage.objects.values_list("pk", flat=True))


def test_a_429_pushes_the_next_attempt_by_retry_after(telegram):
    row = enqueue(1, "hello")
    now = timezone.now()
    telegram.fail_next("sendMessage", 429, retry_after=42)
    assert telegram_outbox_deliver(client=client(telegram), now=now).sent == 0
    row.refresh_from_db()
    assert row.status == TelegramMessage.Status.PENDING
    assert row.next_attempt_at >= now + timedelta(seconds=42)
    assert "429" in row.last_error
    assert (
        telegram_outbox_deliver(client=client(telegram), now=now + timedelta(seconds=41)).sent == 0
    )
    assert (
        telegram_outbox_deliver(client=client(telegram), now=now + timedelta(seconds=43)).sent == 1
    )


def test_a_refusal_other_than_429_fails_the_row_with_the_reason(telegram):
    row = enqueue(1, "hello")
    telegram.fail_next("sendMessage", 403)
    assert telegram_outbox_deliver(client=client(telegram)).failed == 1
    row.refresh_from_db()
    assert row.status == TelegramMessage.Status.FAILED
    assert "blocked by the user" in row.last_error


def test_a_crash_between_send_and_mark_resends_once_marked_as_a_repeat(telegram, monkeypatch):
    row = enqueue(1, "hello")
    now = timezone.now()

    def die(**kwargs):
        raise KeyboardInterrupt("worker killed after Telegram answered")

    monkeypatch.setattr(service, "telegram_message_mark_sent", die)
    with pytest.raises(KeyboardInterrupt):
        telegram_outbox_deliver(client=client(telegram), now=now)
    monkeypatch.undo()
    row.refresh_from_db()
    assert row.status == TelegramMessage.Status.SENDING and len(telegram.sent) == 1
    # While the dead worker's lease lasts, nobody sends it again.
    assert (
        telegram_outbox_deliver(client=client(telegram), now=now + timedelta(seconds=8)).sent == 0
    )
    later = now + SEND_LEASE + timedelta(seconds=1)
    assert telegram_outbox_deliver(client=client(telegram), now=later).sent == 1
    row.refresh_from_db()
    assert row.status == TelegramMessage.Status.SENT
    assert row.uncertain_sends == 1
    assert [m["text"] for m in telegram.sent] == ["hello", RESENT_NOTE + "hello"]
    assert (
        telegram_outbox_deliver(client=client(telegram), now=later + timedelta(hours=1)).sent == 0
    )


def test_telegram_down_for_hours_then_everything_goes_in_order_once(telegram):
    texts = {1: ["a1", "a2", "a3"], 2: ["b1"]}
    for chat, items in texts.items():
        for text in items:
            enqueue(chat, text)
    start = timezone.now()
    telegram.down = True
    moment = start
    while moment < start + timedelta(hours=3):
        assert telegram_outbox_deliver(client=client(telegram), now=moment).sent == 0
        moment += timedelta(minutes=7)
    assert telegram.sent == []
    waiting = TelegramMessage.objects.filter(status=TelegramMessage.Status.PENDING)
    assert waiting.count() == 4
    # Backoff is capped: the rows are never pushed hours beyond the outage.
    assert all(row.next_attempt_at <= moment + MAX_BACKOFF for row in waiting)

    telegram.down = False
    for _ in range(20):
        moment += timedelta(minutes=1)
        telegram_outbox_deliver(client=client(telegram), now=moment)
    assert not TelegramMessage.objects.exclude(status=TelegramMessage.Status.SENT).exists()
    per_chat = {
        chat: [m["text"] for m in telegram.sent if m["chat"]["id"] == chat] for chat in texts
    }
    assert per_chat == texts


def test_the_task_drains_a_chat_a_second_apart_within_its_window(telegram):
    for text in ("one", "two", "three"):
        enqueue(1, text)
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        traveller.shift(seconds)

    with time_machine.travel(timezone.now(), tick=False) as traveller:
        report = telegram_outbox_drain(client=client(telegram), sleep=sleep)
    assert report.sent == 3
    assert [m["text"] for m in telegram.sent] == ["one", "two", "three"]
    assert waits and all(0 < w <= 1 for w in waits)


def test_the_task_stops_when_telegram_is_down(telegram):
    enqueue(1, "one")
    telegram.down = True
    report = telegram_outbox_drain(client=client(telegram), sleep=lambda s: None)
    assert report.sent == 0 and report.stopped
    assert telegram.count("sendMessage") == 1


def _closed_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


def test_no_stored_row_ever_holds_the_bot_token(telegram, alice, make_decision):
    """After linking, a decision sent and pressed, a refused send, Telegram unreachable
    and a refused token, no column of any row in the database holds the token."""
    token_bind = telegram_link_token_issue(user=alice)
    telegram_update_handle(
        update={"update_id": 1, **telegram.start_message(user_id=77, text=f"/start {token_bind}")}
    )
    decision = make_decision(due_at=timezone.now() + timedelta(hours=4))
    telegram_decision_notify(decision_id=decision.pk, event="requested")
    telegram_outbox_deliver()  # "linked as alice"; the decision waits a second behind it
    telegram_outbox_deliver(now=timezone.now() + timedelta(seconds=2))
    [sent] = [m for m in telegram.sent if m.get("reply_markup")]
    data = telegram.buttons(sent)[0][1]
    telegram_update_handle(update=telegram.press(user_id=77, data=data, message=sent))
    telegram.fail_next("sendMessage", 400)
    telegram_enqueue(chat_id=77, text="refused", purpose="reply", dedupe_key="t:400")
    telegram_outbox_deliver(client=client(telegram), now=timezone.now() + timedelta(seconds=5))
    down = TelegramClient(
        token=TOKEN, api_url=f"http://127.0.0.1:{_closed_port()}", policy=ONCE, sleep=lambda s: None
    )
    telegram_enqueue(chat_id=78, text="unreachable", purpose="reply", dedupe_key="t:down")
    telegram_outbox_deliver(client=down, now=timezone.now() + timedelta(seconds=10))
    # The outage's reason is recorded (a later try may overwrite it: checked now).
    outage = TelegramMessage.objects.get(dedupe_key="t:down").last_error
    assert "127.0.0.1" in outage and TOKEN.split(":", 1)[1] not in outage
    wrong = TelegramClient(
        token=TOKEN + "wrong", api_url=telegram.url, policy=ONCE, sleep=lambda s: None
    )
    telegram_outbox_deliver(client=wrong, now=timezone.now() + timedelta(hours=1))

    errors = list(
        TelegramMessage.objects.exclude(last_error="").values_list("last_error", flat=True)
    )
    assert len(errors) == 2  # the refusal and the bad token (over the outage's reason)
    secret_part = TOKEN.split(":", 1)[1]
    with connection.cursor() as cursor:
        for model in apps.get_models():
            table = model._meta.db_table
            if table not in connection.introspection.table_names(cursor):
                continue
            cursor.execute(f'SELECT * FROM "{table}"')  # noqa: S608 - table names from the models
            for row in cursor.fetchall():
                text = " ".join(str(value) for value in row)
                assert secret_part not in text, f"the bot token is stored in {table}"
