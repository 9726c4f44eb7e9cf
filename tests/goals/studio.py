"""A scripted studio: answers each role's prompt the way a well-behaved gpt-oss would.

``studio_answer`` reads the prompt text (the rendered Harmony conversation, or just the
instructions and user message) and returns the analysis and a schema-valid final JSON
answer for the role it finds there. The fake gpt-oss server serves it over HTTP for the
end-to-end tests; ``StudioClient`` serves it in-process for the long scheduler runs.
"""

from __future__ import annotations

import itertools
import json
import random
import re
import threading
from dataclasses import dataclass, field
from typing import Any

from bizagent.llm.errors import LLMSchemaViolation
from bizagent.llm.structured import StructuredOutputError, structured_parse
from bizagent.llm.types import ChatRequest, ChatResult, Usage

PRODUCTS = (
    "plush keychain",
    "tea set",
    "sticker pack",
    "wall calendar",
    "tote bag",
    "incense kit",
    "notebook",
    "postcard set",
    "phone wallpaper club",
    "letter newsletter",
    "pop-up café",
    "furoshiki cloth",
    "bento box",
    "soy candle",
    "pottery workshop",
    "picture book",
)
AUDIENCES = (
    "office workers",
    "night-shift nurses",
    "students before exams",
    "new parents",
    "remote designers",
    "teachers",
    "overseas fans in Taipei",
    "commuters",
)
OCCASIONS = ("spring", "moon-viewing", "new year", "tanabata", "rainy season", "autumn")
ROLES = ("planner", "ideator", "critic", "editor")


def _role(prompt: str) -> str:
    for role in ROLES:
        if f"You are the {role}" in prompt:
            return role
    raise ValueError("no role instructions in the prompt")


def _request_part(prompt: str) -> str:
    start = prompt.find("# Request\n")
    return prompt[start:] if start >= 0 else prompt


def _priority_part(prompt: str) -> str:
    """The planner's best ideas in full: portfolio context, placed before the request."""
    start = prompt.find("# Ideas by priority\n")
    if start < 0:
        return ""
    # It ends at the next top-level heading or the changes since (which follow it).
    ends = [at for h in ("\n# ", "\n## Changes") if (at := prompt.find(h, start + 1)) >= 0]
    return prompt[start : min(ends)] if ends else prompt[start:]


def _field(text: str, name: str, default: str = "") -> str:
    match = re.search(rf"^{name}: ([^\n]+)", text, re.MULTILINE)
    return match.group(1).strip() if match else default


def _named_ids(text: str) -> list[int]:
    match = re.search(r"(?:CRITIQUE|COMPARE|REFINE|EDIT) ideas ((?:#\d+(?:, )?)+)", text)
    return [int(i) for i in re.findall(r"#(\d+)", match.group(1))] if match else []


def _listed_ids(text: str) -> list[int]:
    return list(dict.fromkeys(int(i) for i in re.findall(r"\[#(\d+)\]", text)))


@dataclass
class Studio:
    """Answers by role. ``repeat`` makes the ideator say the same thing every time."""

    repeat: bool = False
    meta_ratio: float | None = None
    counter: itertools.count = field(default_factory=lambda: itertools.count(1))
    calls: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, prompt: str) -> tuple[str, dict[str, Any]]:
        role = _role(prompt)
        with self.lock:
            self.calls[role] = self.calls.get(role, 0) + 1
            n = next(self.counter)
        request = _request_part(prompt)
        kind = _field(request, "kind", "plan").split()[0]
        mode = _field(request, "mode", "explore")
        analysis = f"The request is {kind} in {mode} mode; I follow the brand's calm tone."
        if role == "planner":
            return analysis, self.planner(request, n, ideas=_priority_part(prompt))
        return analysis, getattr(self, role)(request, n)

    def ideator(self, request: str, n: int) -> dict[str, Any]:
        if self.repeat:
            n = 1
        ideas = []
        for k in range(3):
            seed = n * 3 + k
            product = PRODUCTS[seed % len(PRODUCTS)]
            audience = AUDIENCES[(seed // len(PRODUCTS)) % len(AUDIENCES)]
            occasion = OCCASIONS[seed % len(OCCASIONS)]
            ideas.append(
                {
                    "title": f"{occasion.title()} {product} for {audience} no. {seed}",
                    "summary": f"A Mochiusa {product} that gives {audience} a calm tea break.",
                    "target_audience": audience,
                    "value_proposition": f"A small {occasion} reward at the end of a hard day.",
                    "revenue_model": f"¥{1200 + 100 * (seed % 30)} per unit, 300-unit lot",
                    "tags": [product.split()[0], occasion.replace(" ", "-")],
                    "builds_on": [],
                }
            )
        direction = (
            "seasonal comfort goods"
            if self.repeat
            else f"{OCCASIONS[n % len(OCCASIONS)]} goods for {AUDIENCES[n % len(AUDIENCES)]}"
        )
        return {"direction": direction, "ideas": ideas}

    def _phrase(self, lead: str, i: int, n: int) -> str:
        """Words that vary from call to call like a real model's (the same when it
        repeats itself), so stagnation tells a working studio from a stuck one."""
        rng = random.Random(1 if self.repeat else n * 1009 + i * 31 + len(lead))
        # Numbered words: a vocabulary this small would make any two answers look alike
        # to a bag-of-words comparison, which a real model's prose does not.
        words = [
            f"{rng.choice(PRODUCTS).split()[0]}{rng.randrange(10**5)}",
            f"{rng.choice(AUDIENCES).split()[0]}{rng.randrange(10**5)}",
            f"{rng.choice(OCCASIONS).split()[0]}{rng.randrange(10**5)}",
            f"plan{rng.randrange(10**5)}",
        ]
        return f"{lead} {' '.join(words)}"

    def critic(self, request: str, n: int) -> dict[str, Any]:
        ids = _named_ids(request)
        reviews = [
            {
                "idea_id": i,
                "scores": {
                    "brand_fit": float(5 + i % 5),
                    "novelty": float(3 + i % 7),
                    "feasibility": float(4 + i % 6),
                },
                "strengths": [self._phrase("fits", i, n)],
                "weaknesses": [self._phrase("untested with", i + 1, n)],
                "verdict": "refine" if i % 3 == 0 else "keep",
                "suggestion": self._phrase("first sell through", i + 2, n),
            }
            for i in ids
        ]
        compare = "COMPARE" in request
        return {
            "reviews": reviews,
            "ranking": sorted(ids, reverse=True) if compare else [],
            "rationale": "Ranked by brand fit." if compare else "Scored.",
        }

    def editor(self, request: str, n: int) -> dict[str, Any]:
        return {
            "edits": [
                {
                    "idea_id": i,
                    "changes": {"summary": f"Sharper pitch: {self._phrase('a', i, n)}."},
                    "reason": self._phrase("clearer channel via", i + 3, n),
                }
                for i in _named_ids(request)
            ]
        }

    def planner(self, request: str, n: int, ideas: str = "") -> dict[str, Any]:
        ids = _listed_ids(ideas or request)
        tasks: list[dict[str, Any]] = [
            {"kind": "generate", "priority": 50, "idea_ids": [], "brief": self._phrase("try", 0, n)}
        ]
        if ids:
            tasks.append(
                {
                    "kind": "critique",
                    "priority": 60,
                    "idea_ids": ids[:2],
                    "brief": self._phrase("score", 2, n),
                }
            )
        if len(ids) >= 2:
            tasks.append(
                {
                    "kind": "compare",
                    "priority": 45,
                    "idea_ids": ids[:3],
                    "brief": self._phrase("rank", 3, n),
                }
            )
            tasks.append(
                {
                    "kind": "edit",
                    "priority": 30,
                    "idea_ids": ids[:1],
                    "brief": self._phrase("tighten", 4, n),
                }
            )
        strategy = None
        if "kind: meta_review" in request and self.meta_ratio is not None:
            strategy = {
                "explore_ratio": self.meta_ratio,
                "focus": "Seasonal drops for tired workers.",
                "magnitude": 0.05,
                "reason": "Repetition is rising; change the balance.",
            }
        assessment = self._phrase("growing toward", 1, n)
        return {"assessment": assessment, "tasks": tasks, "strategy": strategy}


class StudioClient:
    """An in-process stand-in for ``LLMClient`` that answers with a ``Studio``.

    It validates against the response format exactly as the real client does, so the
    loop's repair path sees the same errors. Used where HTTP would only slow a long run.
    """

    backend_name = "studio"
    model = "studio"
    base_url = "in-process"

    def __init__(self, studio: Studio | None = None) -> None:
        self.studio = studio or Studio()
        self.requests: list[ChatRequest] = []

    def complete(self, request: ChatRequest) -> ChatResult:
        self.requests.append(request)
        prompt = "\n".join(
            [request.instructions, *(h.content for h in request.history), request.user or ""]
        )
        analysis, answer = self.studio.answer(prompt)
        final = json.dumps(answer, ensure_ascii=False)
        assert request.response_format is not None
        try:
            parsed = structured_parse(final, request.response_format.schema)
        except StructuredOutputError as exc:
            raise LLMSchemaViolation(str(exc), raw=final) from exc
        tokens = len(prompt) // 4
        return ChatResult(
            final=final,
            analysis=analysis,
            parsed=parsed,
            usage=Usage(prompt_tokens=tokens, completion_tokens=len(final) // 4),
            latency_ms=0.0,
        )


class ScriptedClient(StudioClient):
    """A ``StudioClient`` whose next calls can be made to fail: ``fail_next(exc, ...)``."""

    def __init__(self, studio: Studio | None = None) -> None:
        super().__init__(studio)
        self.failures: list[BaseException | str] = []

    def fail_next(self, *failures: BaseException | str) -> None:
        """Each failure is an exception to raise, or a raw final text to return (which the
        response format then rejects, as a real server's bad answer would be)."""
        self.failures.extend(failures)

    def complete(self, request: ChatRequest) -> ChatResult:
        if not self.failures:
            return super().complete(request)
        self.requests.append(request)
        failure = self.failures.pop(0)
        if isinstance(failure, BaseException):
            raise failure
        assert request.response_format is not None
        try:
            parsed = structured_parse(failure, request.response_format.schema)
        except StructuredOutputError as exc:
            raise LLMSchemaViolation(f"{request.response_format.name}: {exc}", raw=failure) from exc
        return ChatResult(final=failure, parsed=parsed, usage=Usage(10, 10))


def main() -> None:
    """Serve the studio over the fake gpt-oss server, for manual runs of the loop:

    python -m tests.goals.studio --port 8000
    BIZAGENT_LLM_BASE_URL=http://127.0.0.1:8000/v1 python manage.py runloop --iterations 20
    """
    import argparse
    import os
    import time

    parser = argparse.ArgumentParser(description="The scripted studio on a fake gpt-oss server.")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--repeat", action="store_true", help="an ideator that repeats itself")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bizagent.settings_test")
    import django

    django.setup()
    from tests.fake_gptoss import FakeGptOss, FakeReply

    studio = Studio(repeat=args.repeat)

    def respond(request):
        analysis, answer = studio.answer(request.prompt_text)
        return FakeReply(analysis=analysis, final=json.dumps(answer, ensure_ascii=False))

    server = FakeGptOss(port=args.port)
    server.responder = respond
    server.start()
    print(f"studio on fake gpt-oss at {server.base_url('vllm')}; Ctrl-C stops it", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
