"""One real round trip to the configured model server."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from bizagent.command_language import staff_language
from bizagent.llm.client import llm_client
from bizagent.llm.errors import LLMError
from bizagent.llm.types import ChatRequest

#: What the check measured, one field a line (a person reads it; the labels line up).
LLMCHECK_RESULT = gettext_noop(
    "latency: %(latency)s ms\ntokens:  %(prompt)s prompt + %(completion)s completion\n"
    "answer:  %(answer)s"
)


class Command(BaseCommand):
    help = (
        "Send one short request to the configured gpt-oss server and print backend, model, "
        "latency and tokens; exit non-zero with the exact cause when it fails."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--retries",
            type=int,
            default=0,
            help="retries on a transient failure (default 0: report the first failure as is)",
        )

    @staff_language
    def handle(self, *args: object, **options: Any) -> None:
        try:
            client = llm_client()
            client.retry = replace(client.retry, attempts=max(0, int(options["retries"])) + 1)
        except LLMError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            _("backend: %(backend)s\nmodel:   %(model)s\nserver:  %(server)s")
            % {"backend": client.backend_name, "model": client.model, "server": client.base_url}
        )
        request = ChatRequest(
            instructions="You are a health check. Answer with the single word: pong",
            user="ping",
            reasoning="low",
            max_tokens=512,
            conversation_date=dt.date.today(),
        )
        try:
            result = client.complete(request)
        except LLMError as exc:
            raise CommandError(f"[{exc.error_class}] {exc}") from exc
        self.stdout.write(
            _(LLMCHECK_RESULT)
            % {
                "latency": f"{result.latency_ms:.0f}",
                "prompt": result.usage.prompt_tokens,
                "completion": result.usage.completion_tokens,
                "answer": result.final.strip()[:200],
            }
        )
        self.stdout.write(self.style.SUCCESS(_("OK: the model server answered in Harmony.")))
