"""``memory-buffer``: get, add or clear a conversation history kept under a key.

The key is a template (``user-{{ input.user }}-{{ input.thread }}``) the engine resolves;
the history lives in ``ctx.memory`` (``workflows.memory.OrmMemoryStore`` in production).
``get`` returns the newest window, in messages or in gpt-oss tokens, oldest first, ready
to be placed in a prompt.
"""

from __future__ import annotations

from typing import Any

from workflows.blocks.base import Block, BlockConfigError, BlockContext, BlockResult, block_register
from workflows.templates import harmony_neutralise

OPERATIONS = ("get", "add", "clear")
ROLES = ("user", "assistant", "system")

_MESSAGE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["role", "content"],
    "properties": {
        "role": {"type": "string", "enum": list(ROLES), "description": "Who said it."},
        "content": {"type": "string", "description": "What was said."},
    },
}


@block_register
class MemoryBuffer(Block):
    slug = "memory-buffer"
    name = "Memory buffer"
    category = "memory"
    description = (
        "Keeps a conversation history under a key (for example a user and a thread): "
        "adds messages, returns the newest ones within a window, or clears it."
    )
    config_schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["operation", "key"],
        "properties": {
            "operation": {
                "type": "string",
                "enum": list(OPERATIONS),
                "description": "get the newest messages, add messages, or clear the history.",
            },
            "key": {
                "type": "string",
                "minLength": 1,
                "maxLength": 255,
                "description": (
                    "Which history, usually a template such as "
                    "user-{{ input.user }}-{{ input.thread }}."
                ),
            },
            "messages": {
                "type": "array",
                "maxItems": 100,
                "items": _MESSAGE,
                "description": "The messages to add, oldest first (add only).",
            },
            "window": {
                "description": (
                    "How much get returns: the newest N messages, or the newest messages "
                    "totalling at most N tokens. Without it, the whole (bounded) history."
                ),
                "oneOf": [
                    {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["messages"],
                        "properties": {"messages": {"type": "integer", "minimum": 1}},
                    },
                    {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["tokens"],
                        "properties": {"tokens": {"type": "integer", "minimum": 1}},
                    },
                ],
            },
        },
    }
    input_schema = {
        "type": "object",
        "description": (
            "An agent's arguments when it calls this step as a tool (for example the thread), read"
            " in the config as {{ input.<name> }}."
        ),
    }
    output_schema = {
        "type": "object",
        "properties": {
            "messages": {
                "type": "array",
                "items": _MESSAGE,
                "description": "get: the window, oldest first.",
            },
            "tokens": {"type": "integer", "description": "get: the window's tokens."},
            "added": {"type": "integer", "description": "add: how many messages were added."},
            "cleared": {"type": "integer", "description": "clear: how many were forgotten."},
        },
    }
    # add and clear change stored state.
    side_effects = True
    can_be_tool = True
    # Messages come back into prompts later: templates resolved into them are neutralised.
    prompt_keys = ("messages",)

    def config_problems(self, config: dict[str, Any]) -> list[tuple[str, str]]:
        operation = config.get("operation")
        if operation == "add" and not config.get("messages"):
            return [("messages", "add needs at least one message")]
        if operation != "add" and "messages" in config:
            return [("messages", f"{operation} takes no messages (only add does)")]
        if operation != "get" and "window" in config:
            return [("window", f"{operation} takes no window (only get does)")]
        return []

    def run(
        self, *, config: dict[str, Any], input: dict[str, Any], ctx: BlockContext
    ) -> BlockResult:
        operation = config.get("operation")
        key = config.get("key")
        if not isinstance(key, str) or not key.strip():
            raise BlockConfigError(f"the memory key resolved to {key!r}; it must be non-empty text")
        try:
            if operation == "get":
                window = config.get("window") or {}
                messages = ctx.memory.get(
                    key, max_messages=window.get("messages"), max_tokens=window.get("tokens")
                )
                return BlockResult(
                    output={
                        "messages": [
                            {"role": m["role"], "content": m["content"]} for m in messages
                        ],
                        "tokens": sum(int(m.get("tokens", 0)) for m in messages),
                    }
                )
            if operation == "add":
                added = ctx.memory.add(key, self._messages(config.get("messages")))
                return BlockResult(output={"added": added})
            if operation == "clear":
                return BlockResult(output={"cleared": ctx.memory.clear(key)})
        except ValueError as exc:
            raise BlockConfigError(f"memory {operation} of {key!r}: {exc}") from exc
        raise BlockConfigError(f"operation {operation!r} is not one of {', '.join(OPERATIONS)}")

    @staticmethod
    def _messages(value: Any) -> list[dict[str, Any]]:
        if not isinstance(value, list) or not value:
            raise BlockConfigError("add needs a non-empty list of messages")
        messages = []
        for index, message in enumerate(value):
            if not isinstance(message, dict) or message.get("role") not in ROLES:
                raise BlockConfigError(
                    f"message {index} needs a role ({', '.join(ROLES)}) and a content"
                )
            content = message.get("content")
            if not isinstance(content, str):
                raise BlockConfigError(
                    f"message {index}: content must be text, not {type(content).__name__}"
                )
            messages.append({"role": message["role"], "content": harmony_neutralise(content)})
        return messages
