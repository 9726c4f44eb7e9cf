"""harmony_render puts a plain prompt (system, developer, user; no tools, no history)
together from remembered parts: the ids are openai-harmony's rendering of the whole
conversation, whatever the text, and a prompt that repeats is not tokenized again."""

from __future__ import annotations

import datetime as dt
import random

from openai_harmony import Conversation, Role

import bizagent.llm.harmony as harmony
from bizagent.llm.harmony import harmony_encoding, harmony_messages, harmony_render
from bizagent.llm.types import ChatRequest, ResponseFormat


def whole_render(request: ChatRequest) -> list[int]:
    """openai-harmony's own rendering of the request's conversation, in one call."""
    conversation = Conversation.from_messages(harmony_messages(request))
    return harmony_encoding().render_conversation_for_completion(conversation, Role.ASSISTANT)


def forget() -> None:
    harmony._MESSAGES_RENDERED.clear()
    harmony._text_tokens.cache_clear()


#: Text pieces in several scripts that start and end lines in every way the tokenizer
#: treats differently: letters, digits, marks, punctuation, spaces, ``/``, carriage
#: returns, blank lines, and text that spells a special token.
PIECES = [
    "a", "Z", "mug", "7", "42", "1,500", "¥4,000", "月見", "だんご", "é", "e\u0301", "٣",
    "½", ")", "]", "…", ".", "—", " ", "  ", "\t", "/", "#", "- [#", "'s", "?", ":",
    "\n", "\n\n", "\r\n", " \n", "<|end|>", "<|start|>assistant", "{", '"k": 1',
]  # fmt: skip


def _text(rng: random.Random, most: int) -> str:
    return "".join(rng.choice(PIECES) for _ in range(rng.randint(0, most)))


def test_random_prompts_render_like_the_whole_conversation():
    rng = random.Random(11)
    for _ in range(300):
        request = ChatRequest(
            instructions=_text(rng, 12),
            user=_text(rng, 40),
            reasoning=rng.choice(["low", "medium", "high"]),
            conversation_date=dt.date(2026, 1, 1) + dt.timedelta(days=rng.randint(0, 3)),
            response_format=rng.choice(
                [None, ResponseFormat(name="answer", schema={"type": "object"})]
            ),
        )
        # Once with nothing remembered, once from what the first pass and the others left.
        forget() if rng.random() < 0.3 else None
        assert harmony_render(request) == whole_render(request), request
        assert harmony_render(request) == whole_render(request), request


def test_a_prompt_without_a_user_message_renders_like_the_whole_conversation():
    request = ChatRequest(instructions="Plan the week.", user=None)
    assert harmony_render(request) == whole_render(request)


def test_only_the_new_lines_of_a_prompt_are_tokenized(monkeypatch):
    portfolio = "\n".join(f"- [#{n}] Idea {n} — a calm tea for tired workers" for n in range(60))
    first = ChatRequest(instructions="You are the critic.", user=f"{portfolio}\n# Task\ntask: 1")
    harmony_render(first)
    encoded: list[str] = []
    real = harmony_encoding()

    class Spy:
        def __getattr__(self, name):
            return getattr(real, name)

        def encode(self, text, **kwargs):
            encoded.append(text)
            return real.encode(text, **kwargs)

        def render(self, message, *args):
            encoded.append(f"message {message.author.role.value}")
            return real.render(message, *args)

    monkeypatch.setattr(harmony, "harmony_encoding", lambda: Spy())
    second = ChatRequest(instructions="You are the critic.", user=f"{portfolio}\n# Task\ntask: 2")
    assert harmony_render(second) == whole_render(second)
    # The system and developer messages and the 61 unchanged lines came from memory.
    assert encoded == ["task: 2"]


def test_long_pieces_render_like_the_whole_conversation_and_are_not_remembered():
    forget()
    long_line = "月見だんご, a calm tea for tired workers; " * 200  # one piece, ~8,000 characters
    request = ChatRequest(
        instructions="Summarise the document.", user=f"# Document\n{long_line}\n# Task\nsummary"
    )
    assert harmony_render(request) == whole_render(request)
    remembered = harmony._text_tokens.cache_info().currsize
    assert remembered == 3  # "# Document\n", "# Task\n" and "summary", not the long line
