"""The ORM memory store: windows, the per-key cap, limits, and concurrent adds."""

from __future__ import annotations

import pytest

from bizagent.llm.harmony import harmony_token_count
from tests.concurrency import run_together
from workflows.memory import (
    MEMORY_MAX_ADD,
    MEMORY_MAX_CONTENT,
    MEMORY_MAX_KEY,
    OrmMemoryStore,
)
from workflows.models import MemoryMessage

pytestmark = pytest.mark.django_db


def _msgs(*contents: str, role: str = "user") -> list[dict]:
    return [{"role": role, "content": content} for content in contents]


def _contents(messages: list[dict]) -> list[str]:
    return [m["content"] for m in messages]


def test_get_returns_the_newest_window_oldest_first():
    store = OrmMemoryStore()
    store.add("k", _msgs("one", "two"))
    store.add("k", _msgs("three", "four", role="assistant"))
    assert _contents(store.get("k", max_messages=None, max_tokens=None)) == [
        "one",
        "two",
        "three",
        "four",
    ]
    window = store.get("k", max_messages=3, max_tokens=None)
    assert _contents(window) == ["two", "three", "four"]
    assert [m["role"] for m in window] == ["user", "assistant", "assistant"]


def test_a_token_window_stops_before_the_message_that_would_pass_it():
    store = OrmMemoryStore()
    texts = ["short", "a much longer message with many more words in it", "tail end", "last"]
    store.add("k", _msgs(*texts))
    counts = [harmony_token_count(t) for t in texts]
    limit = counts[3] + counts[2] + counts[1] - 1  # not quite room for the third newest
    window = store.get("k", max_messages=None, max_tokens=limit)
    assert _contents(window) == ["tail end", "last"]
    assert [m["tokens"] for m in window] == counts[2:]


def test_tokens_are_counted_in_the_gpt_oss_vocabulary():
    store = OrmMemoryStore()
    store.add("k", _msgs("売上と顧客の分析", "hello there"))
    stored = list(MemoryMessage.objects.order_by("id").values_list("tokens", flat=True))
    assert stored == [harmony_token_count("売上と顧客の分析"), harmony_token_count("hello there")]


def test_each_key_keeps_only_its_newest_messages_up_to_the_cap():
    store = OrmMemoryStore(max_messages_per_key=5)
    for batch in range(4):
        store.add("k", _msgs(*(f"m{batch}-{i}" for i in range(3))))
    store.add("other", _msgs("x"))
    assert _contents(store.get("k", max_messages=None, max_tokens=None)) == [
        "m2-1",
        "m2-2",
        "m3-0",
        "m3-1",
        "m3-2",
    ]
    assert MemoryMessage.objects.filter(key="k").count() == 5
    assert MemoryMessage.objects.filter(key="other").count() == 1


def test_clear_forgets_one_key_and_says_how_many():
    store = OrmMemoryStore()
    store.add("a", _msgs("1", "2"))
    store.add("b", _msgs("3"))
    assert store.clear("a") == 2
    assert store.clear("a") == 0
    assert store.get("a", max_messages=None, max_tokens=None) == []
    assert _contents(store.get("b", max_messages=None, max_tokens=None)) == ["3"]


@pytest.mark.parametrize(
    ("key", "messages", "says"),
    [
        ("", _msgs("x"), "the memory key is empty"),
        ("k" * (MEMORY_MAX_KEY + 1), _msgs("x"), f"at most {MEMORY_MAX_KEY}"),
        ("k", _msgs(*["x"] * (MEMORY_MAX_ADD + 1)), f"at most {MEMORY_MAX_ADD}"),
        ("k", _msgs("x", role="tool"), "message 0: role 'tool' is not one of user"),
        ("k", [{"role": "user", "content": 5}], "message 0: content must be text, not int"),
        ("k", _msgs("x" * (MEMORY_MAX_CONTENT + 1)), f"at most {MEMORY_MAX_CONTENT}"),
        ("k", ["x"], "message 0 is not an object"),
    ],
)
def test_bad_adds_are_refused_whole(key, messages, says):
    store = OrmMemoryStore()
    with pytest.raises(ValueError, match=None) as caught:
        store.add(key, [*_msgs("fine"), *messages])
    assert says.replace("message 0", "message 1") in str(caught.value)
    assert MemoryMessage.objects.count() == 0


def test_harmony_markers_do_not_break_token_counting():
    store = OrmMemoryStore()
    store.add("k", _msgs("<|start|>system<|message|>x"))
    (message,) = store.get("k", max_messages=None, max_tokens=None)
    assert message["tokens"] > 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_adds_lose_nothing_and_keep_each_add_in_order():
    store = OrmMemoryStore()

    def add(index: int) -> int:
        return store.add("shared", _msgs(*(f"w{index}-{i}" for i in range(5))))

    results, errors = run_together(add, 6)
    assert not errors, errors
    assert sorted(results) == [5] * 6
    contents = _contents(store.get("shared", max_messages=None, max_tokens=None))
    assert len(contents) == 30
    for index in range(6):
        mine = [c for c in contents if c.startswith(f"w{index}-")]
        assert mine == [f"w{index}-{i}" for i in range(5)]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_adds_past_the_cap_leave_exactly_the_newest_cap():
    store = OrmMemoryStore(max_messages_per_key=7)

    def add(index: int) -> int:
        return store.add("shared", _msgs(*(f"w{index}-{i}" for i in range(4))))

    _, errors = run_together(add, 6)
    assert not errors, errors
    rows = list(MemoryMessage.objects.filter(key="shared").order_by("id").values("id", "content"))
    ids = [row["id"] for row in rows]
    # The 24 inserts took consecutive ids; the survivors are the newest seven of them.
    assert ids == list(range(ids[-1] - 6, ids[-1] + 1))
    # What survives of one add is its end, in order.
    for index in range(6):
        mine = [row["content"] for row in rows if row["content"].startswith(f"w{index}-")]
        assert mine == [f"w{index}-{i}" for i in range(4 - len(mine), 4)]
    store.add("shared", _msgs("after"))
    assert MemoryMessage.objects.filter(key="shared").count() == 7
    assert store.get("shared", max_messages=1, max_tokens=None)[0]["content"] == "after"
