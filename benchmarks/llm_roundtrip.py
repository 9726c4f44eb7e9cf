"""Round-trip cost of one gpt-oss call through bizagent's client, against the fake server.

Prints the median and p95 of render + HTTP + parse for a ~2k-token prompt over the vLLM
protocol (and the other two for comparison), the render and parse parts alone, and the
fraction of prompt tokens that two consecutive calls of the same role share as a prefix
(what the server's prefix cache can reuse; the aim is over 90%).

    .venv/bin/python benchmarks/llm_roundtrip.py [--calls 200]

Traffic stays on loopback: the fake gpt-oss server from tests/ runs in this process.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bizagent.settings_test")
os.environ.setdefault("BIZAGENT_VAR_DIR", tempfile.mkdtemp(prefix="bizagent-bench-"))

import django  # noqa: E402

django.setup()

from bizagent.llm.client import LLMClient, backend_build, llm_retry_policy  # noqa: E402
from bizagent.llm.harmony import harmony_encoding, harmony_parse, harmony_render  # noqa: E402
from bizagent.llm.types import ChatRequest, ResponseFormat, ToolSpec  # noqa: E402
from goals.stats import shared_prefix_length  # noqa: E402
from tests.fake_gptoss import FakeGptOss, FakeReply  # noqa: E402

MODELS = {"vllm": "openai/gpt-oss-20b", "ollama": "gpt-oss:20b", "openai": "openai/gpt-oss-20b"}

IP_SPEC = "\n".join(
    f"- canon example {i}: a seasonal character goods line with story cards, limited runs, "
    f"and collaboration cafes in regional cities (variant {i})"
    for i in range(60)
)
INSTRUCTIONS = (
    "You are the ideator of a business agent. Propose concrete, legal, brand-safe ideas.\n\n"
    f"# IP Spec\n\n{IP_SPEC}\n\n# Project Config\n\nbudget: 2,000,000 JPY per week; "
    "banned APIs: none; explore:deepen 0.6"
)
IDEA = ResponseFormat(
    name="ideas",
    description="New ideas for the portfolio.",
    schema={
        "type": "object",
        "properties": {
            "ideas": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "title": {"type": "string"},
                        "summary": {"type": "string"},
                        "score": {"type": "number"},
                    },
                    "required": ["title", "summary", "score"],
                },
            }
        },
        "required": ["ideas"],
    },
)
TOOLS = (
    ToolSpec(
        "search_portfolio",
        "Find existing ideas by keyword.",
        {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]},
    ),
)
ANSWER = (
    '{"ideas": [{"title": "Rainy-day story cards", "summary": "A card per rainy day in June, '
    'sold as a subscription.", "score": 7.5}]}'
)


def task_text(n: int) -> str:
    ideas = "\n".join(
        f"* idea {n}-{k}: pop-up shop concept number {k} with a limited sticker set"
        for k in range(4)
    )
    return f"Task {n}: generate two ideas unlike these.\n{ideas}"


def request(n: int) -> ChatRequest:
    return ChatRequest(
        instructions=INSTRUCTIONS,
        user=task_text(n),
        tools=TOOLS,
        response_format=IDEA,
        reasoning="low",
        conversation_date=dt.date(2026, 11, 22),
    )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()

    prompt_tokens = len(harmony_render(request(0)))
    print(f"prompt: {prompt_tokens} tokens (Harmony, o200k), {args.calls} calls per backend")

    renders = []
    for n in range(args.calls):
        started = time.perf_counter()
        harmony_render(request(n))
        renders.append((time.perf_counter() - started) * 1000)

    enc = harmony_encoding()
    completion = enc.encode(
        "<|channel|>analysis<|message|>Two ideas, avoid pop-ups.<|end|>"
        f"<|start|>assistant<|channel|>final<|message|>{ANSWER}<|return|>",
        allowed_special="all",
    )
    parses = []
    for _ in range(args.calls):
        started = time.perf_counter()
        harmony_parse(completion)
        parses.append((time.perf_counter() - started) * 1000)
    print(
        f"render alone:  median {statistics.median(renders):.2f} ms, "
        f"p95 {percentile(renders, 0.95):.2f} ms"
    )
    print(
        f"parse alone:   median {statistics.median(parses):.3f} ms, "
        f"p95 {percentile(parses, 0.95):.3f} ms"
    )

    with FakeGptOss() as fake:
        fake.responder = lambda req: FakeReply(analysis="Two ideas, avoid pop-ups.", final=ANSWER)
        for backend in ("vllm", "ollama", "openai"):
            client = LLMClient(
                backend_build(
                    backend=backend,
                    base_url=fake.base_url(backend),
                    model=MODELS[backend],
                    api_key=None,
                    context_tokens=16384,
                ),
                timeout=30,
                retry=llm_retry_policy(max_retries=0, budget=0.0),
            )
            client.complete(request(-1))  # warm the connection
            totals = []
            for n in range(args.calls):
                started = time.perf_counter()
                result = client.complete(request(n))
                totals.append((time.perf_counter() - started) * 1000)
                assert result.parsed["ideas"][0]["title"] == "Rainy-day story cards"
            print(
                f"{backend:7s} render + HTTP + parse: median {statistics.median(totals):.2f} ms, "
                f"p95 {percentile(totals, 0.95):.2f} ms"
            )

    first, second = harmony_render(request(1)), harmony_render(request(2))
    shared = shared_prefix_length(first, second)
    print(
        f"shared prefix of two consecutive calls of the same role: {shared}/{len(second)} "
        f"tokens = {shared / len(second):.1%}"
    )


if __name__ == "__main__":
    main()
