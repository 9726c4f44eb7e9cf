"""Harmony rendering and parsing for gpt-oss, with openai-harmony.

Rendering follows the Harmony format: a system message (identity, knowledge cutoff, a
pinned date, reasoning effort, valid channels), a developer message (``# Instructions``,
``# Response Formats`` with the JSON Schema, and function tools), then the history and
the user message. Chain of thought is pruned as the spec says: a finished turn keeps
only its final message, the turn in progress keeps its analysis, tool calls and tool
results (openai-harmony's ``auto_drop_analysis`` does the dropping; we test it).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
import unicodedata
from collections.abc import Sequence

from django.conf import settings
from openai_harmony import (
    Author,
    Conversation,
    DeveloperContent,
    HarmonyEncoding,
    HarmonyEncodingName,
    HarmonyError,
    Message,
    ReasoningEffort,
    Role,
    SystemContent,
    ToolDescription,
    load_harmony_encoding,
    raise_disallowed_special_token,
)

from bizagent.llm.errors import LLMConfigurationError
from bizagent.llm.types import ChatRequest, HistoryMessage, ResponseFormat
from bizagent.llm.vocab import vocab_ensure

_EFFORT = {
    "low": ReasoningEffort.LOW,
    "medium": ReasoningEffort.MEDIUM,
    "high": ReasoningEffort.HIGH,
}


@functools.cache
def harmony_encoding() -> HarmonyEncoding:
    """The gpt-oss Harmony encoding, loaded once per process from the offline vocab."""
    vocab_ensure(settings.VOCAB_CACHE_DIR)
    try:
        return load_harmony_encoding(HarmonyEncodingName.HARMONY_GPT_OSS)
    except HarmonyError as exc:  # pragma: no cover - only with a broken vocab directory
        raise LLMConfigurationError(f"openai-harmony could not load its vocab: {exc}") from exc


def response_format_section(response_format: ResponseFormat) -> str:
    """The ``# Response Formats`` block of the developer message, as the Harmony spec shows."""
    schema = json.dumps(response_format.schema, ensure_ascii=False, separators=(",", ":"))
    description = response_format.description.strip() or f"Respond with a {response_format.name}."
    comment = "\n".join(f"// {line}" for line in description.splitlines())
    return f"# Response Formats\n\n## {response_format.name}\n\n{comment}\n{schema}"


def developer_instructions(request: ChatRequest) -> str:
    parts = [request.instructions.strip()]
    if request.response_format is not None:
        parts.append(response_format_section(request.response_format))
    return "\n\n".join(part for part in parts if part)


def _history_message(item: HistoryMessage) -> Message:
    if item.role == "user":
        return Message.from_role_and_content(Role.USER, item.content)
    if item.role == "tool":
        if not item.name:
            raise ValueError("a tool result needs the tool's name")
        # The documented header: `<|start|>functions.NAME to=assistant<|channel|>commentary`.
        return (
            Message.from_author_and_content(
                Author.new(Role.TOOL, f"functions.{item.name}"), item.content
            )
            .with_channel("commentary")
            .with_recipient("assistant")
        )
    message = Message.from_role_and_content(Role.ASSISTANT, item.content).with_channel(
        item.channel or "final"
    )
    if item.recipient:
        message = message.with_recipient(item.recipient)
    if item.content_type:
        message = message.with_content_type(item.content_type)
    return message


def harmony_messages(request: ChatRequest) -> list[Message]:
    date = request.conversation_date or dt.date.today()
    system = (
        SystemContent.new()
        .with_reasoning_effort(_EFFORT[request.reasoning])
        .with_conversation_start_date(date.isoformat())
        .with_knowledge_cutoff(request.knowledge_cutoff)
    )
    # With tools, the response format must follow them ("at the end of the developer
    # message"); openai-harmony puts instructions first, so harmony_render appends it.
    developer = DeveloperContent.new().with_instructions(
        developer_instructions(request) if not request.tools else request.instructions.strip()
    )
    if request.tools:
        developer = developer.with_function_tools(
            [
                # A function without arguments renders as `() => any`, as the spec shows.
                ToolDescription.new(
                    t.name, t.description, t.parameters if t.parameters.get("properties") else None
                )
                for t in request.tools
            ]
        )
    messages = [
        Message.from_role_and_content(Role.SYSTEM, system),
        Message.from_role_and_content(Role.DEVELOPER, developer),
    ]
    messages.extend(_history_message(item) for item in request.history)
    if request.user is not None:
        messages.append(Message.from_role_and_content(Role.USER, request.user))
    return messages


def harmony_render(request: ChatRequest) -> list[int]:
    """Prompt token ids ending with ``<|start|>assistant``, ready for a completion.

    A prompt of a system, a developer and a user message (no tools, no history: every
    call of the studio's loop) is put together from parts remembered across calls
    (``_render_plain``); anything else is rendered whole by openai-harmony.
    """
    encoding = harmony_encoding()
    messages = harmony_messages(request)
    if not request.tools and not request.history:
        return _render_plain(messages)
    conversation = Conversation.from_messages(messages)
    tokens = encoding.render_conversation_for_completion(conversation, Role.ASSISTANT)
    if request.tools and request.response_format is not None:
        tokens = _developer_append(
            tokens, "\n\n" + response_format_section(request.response_format)
        )
    return tokens


#: Rendered system and developer messages by their JSON (what openai-harmony renders
#: from): the same few per role and day, call after call.
_MESSAGES_RENDERED: dict[str, tuple[int, ...]] = {}
_MESSAGES_REMEMBERED = 64


def _render_plain(messages: Sequence[Message]) -> list[int]:
    """openai-harmony's ``render_conversation_for_completion`` of system, developer and
    user messages without function tools, from remembered parts.

    Such a conversation renders as each message's own rendering, one after the other,
    then ``<|start|>assistant`` (analysis is dropped only from assistant messages, and
    no tools means the system message says nothing of them). Tokenizing is nearly all of
    a render's time (~1 µs a token), and most of a loop prompt repeats: the system and
    developer messages are remembered whole, and the user message's text in pieces that
    end at a newline the tokenizer always splits at (``splits_after_newline``), so only
    its new lines are tokenized. The ids are the same as rendering the whole
    conversation (tests compare them on real loop prompts and random text).
    """
    tokens: list[int] = []
    for message in messages:
        if message.author.role is Role.USER and len(message.content) == 1:
            header, end = _user_frame()
            tokens += header
            tokens += _text_tokens_by_line(message.content[0].text)
            tokens += end
        else:
            tokens += _message_rendered(message)
    tokens += _completion_start()
    return tokens


def _message_rendered(message: Message) -> tuple[int, ...]:
    key = message.to_json()
    rendered = _MESSAGES_RENDERED.get(key)
    if rendered is None:
        rendered = tuple(harmony_encoding().render(message))
        if len(_MESSAGES_RENDERED) >= _MESSAGES_REMEMBERED:
            _MESSAGES_RENDERED.clear()  # a new day or theme: the old ones will not come back
        _MESSAGES_RENDERED[key] = rendered
    return rendered


@functools.cache
def _user_frame() -> tuple[tuple[int, ...], tuple[int, ...]]:
    """A user message's tokens before and after its text (``<|start|>user<|message|>``
    and ``<|end|>``), from openai-harmony's rendering of an empty one."""
    empty = harmony_encoding().render(Message.from_role_and_content(Role.USER, ""))
    return tuple(empty[:-1]), tuple(empty[-1:])


@functools.cache
def _completion_start() -> tuple[int, ...]:
    """``<|start|>assistant``: what openai-harmony appends for the model to answer."""
    return tuple(
        harmony_encoding().render_conversation_for_completion(
            Conversation.from_messages([]), Role.ASSISTANT
        )
    )


#: Longer pieces are tokenized every time: a loop prompt's lines are far shorter, and
#: remembering 4,096 long pieces (a document per workflow run) would hold ~36 bytes of
#: memory per token for nothing.
_PIECE_REMEMBERED_CHARS = 1000


def _text_tokens_by_line(text: str) -> list[int]:
    """The ordinary (no special tokens) ids of ``text``, from pieces remembered per line."""
    tokens: list[int] = []
    lines = text.split("\n")
    start = 0
    for index in range(1, len(lines)):
        if splits_after_newline(lines[index]):
            tokens += _piece_tokens("\n".join(lines[start:index]) + "\n")
            start = index
    tokens += _piece_tokens("\n".join(lines[start:]))
    return tokens


def _piece_tokens(piece: str) -> Sequence[int]:
    if len(piece) <= _PIECE_REMEMBERED_CHARS:
        return _text_tokens(piece)
    return _ordinary_encode(piece)


@functools.lru_cache(maxsize=4096)
def _text_tokens(text: str) -> tuple[int, ...]:
    """Ordinary ids of ``text`` (remembered), as openai-harmony tokenizes message text."""
    return tuple(_ordinary_encode(text))


def _ordinary_encode(text: str) -> list[int]:
    return harmony_encoding().encode(text, allowed_special=set(), disallowed_special=())


def _developer_append(tokens: list[int], text: str) -> list[int]:
    """Append ``text`` to the content of the developer message, re-encoding that content."""
    encoding = harmony_encoding()
    start, message, end = (
        encoding.encode(marker, allowed_special="all")[0]
        for marker in ("<|start|>", "<|message|>", "<|end|>")
    )
    developer = harmony_text_encode("developer")
    for index, token in enumerate(tokens):
        header = index + 1
        if token == start and tokens[header : header + len(developer)] == developer:
            content_start = tokens.index(message, header) + 1
            content_end = tokens.index(end, content_start)
            content = encoding.decode_utf8(tokens[content_start:content_end]) + text
            body = harmony_text_encode(content)
            return [*tokens[:content_start], *body, *tokens[content_end:]]
    raise ValueError("the rendered prompt has no developer message")


def harmony_parse(completion_tokens: list[int]) -> list[Message]:
    """Messages from the tokens the model produced after ``<|start|>assistant``.

    Raises ``HarmonyError`` when the tokens are not valid Harmony.
    """
    return harmony_encoding().parse_messages_from_completion_tokens(
        completion_tokens, Role.ASSISTANT, strict=True
    )


def harmony_stop_token_ids() -> list[int]:
    """``<|return|>`` and ``<|call|>``: where an assistant turn ends for us."""
    return list(_stop_token_ids(harmony_encoding()))


def harmony_end_token_ids() -> list[int]:
    """Tokens that may close a completion: ``<|return|>``, ``<|call|>`` and ``<|end|>``."""
    return list(_end_token_ids(harmony_encoding()))


# Asked once per encoding: openai-harmony builds the set anew on each call (0.07 and
# 0.2 ms), and every model call asks for both.
@functools.cache
def _stop_token_ids(encoding: HarmonyEncoding) -> tuple[int, ...]:
    return tuple(encoding.stop_tokens_for_assistant_actions())


@functools.cache
def _end_token_ids(encoding: HarmonyEncoding) -> tuple[int, ...]:
    return tuple(encoding.stop_tokens())


@functools.cache
def _special_token_pattern(encoding: HarmonyEncoding) -> re.Pattern[str]:
    """One alternation of every special token of ``encoding``, compiled once.

    ``HarmonyEncoding.encode`` compiles this pattern (1,091 tokens) on every call that
    disallows special tokens, which cost ~14 ms per prompt-sized text: most of the time
    of counting tokens. Longest first, so the token named in an error is the whole one.
    """
    tokens = sorted(encoding.special_tokens_set, key=lambda token: (-len(token), token))
    return re.compile("|".join(re.escape(token) for token in tokens))


def harmony_text_encode(text: str) -> list[int]:
    """Token ids of plain text; text that spells a special token is refused.

    The same result and the same ``HarmonyError`` as ``encode(text, allowed_special=set())``,
    with the special-token check done by a pattern built once per encoding.
    """
    encoding = harmony_encoding()
    if match := _special_token_pattern(encoding).search(text):
        raise_disallowed_special_token(match.group())
    return encoding.encode(text, allowed_special=set(), disallowed_special=())


@functools.lru_cache(maxsize=4096)
def harmony_token_count(text: str) -> int:
    """Tokens of plain text in the o200k vocab, for context budgets.

    Remembered for the last 4,096 texts: a context counts the same idea renderings
    (titles, summaries, full ideas) call after call while the ideas do not change, and a
    count depends on the text alone. Text that spells a special token still raises each
    time (an exception is not remembered).
    """
    return len(harmony_text_encode(text))


def harmony_token_count_lines(texts: Sequence[str], *, closed: bool = False) -> int:
    """Tokens of ``"\\n".join(texts)``, exactly, from counts remembered per part.

    The o200k pre-tokenizer never lets a piece run from a newline into a following
    character that is neither whitespace nor ``/`` (no pattern starts with a newline
    and goes on, and the punctuation pattern's trailing ``[\\r\\n/]*`` stops there), and
    what precedes the newline does not look ahead past it. So the joined text's tokens
    are each ``part + "\\n"``'s tokens and the last part's, and each of those counts is
    remembered (``harmony_token_count``): a context repeats the same portfolio block and
    idea renderings call after call, and only the new parts are encoded. A part that
    starts with whitespace or ``/`` is counted with the one before it.

    A part ending in a letter or a digit is counted as the part itself plus one: no
    piece that ends in a letter or digit runs on into a newline (the letter and number
    patterns stop there; only the punctuation and whitespace ones take a trailing
    newline), so that newline is a piece of its own, one token. The part alone is often
    counted already (a context checks each part against its budget), so it is encoded
    once instead of twice.

    ``closed``: the tokens of the join followed by a newline and then by a part that
    ``splits_after_newline`` (a portfolio block before the task's first heading).
    """
    total = 0
    pending: list[str] = []
    last = len(texts) - 1
    for index, text in enumerate(texts):
        pending.append(text)
        if index == last and not closed:
            total += harmony_token_count("\n".join(pending))
        elif index == last or splits_after_newline(texts[index + 1]):
            joined = "\n".join(pending)
            if _ends_in_word(joined):
                total += harmony_token_count(joined) + 1
            else:
                total += harmony_token_count(joined + "\n")
            pending = []
    return total


def _ends_in_word(text: str) -> bool:
    """Whether ``text``'s last character is a letter or a digit (\\p{L} or \\p{N})."""
    return bool(text) and unicodedata.category(text[-1])[0] in "LN"


def splits_after_newline(following: str) -> bool:
    """Whether a piece always ends at a newline followed by ``following``."""
    first = following[:1]
    return bool(first) and not first.isspace() and first != "/"
