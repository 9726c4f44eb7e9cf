"""Speed of the agent loop itself, against the fake gpt-oss server with zero delay.

Prints iterations per second and milliseconds per iteration with a breakdown (database
and bookkeeping, context building, Harmony rendering, HTTP, parsing and validation),
the queries per iteration, the fraction of each role's prompt that is a prefix shared
with its previous call (what vLLM's prefix cache can reuse), and the same figures with
1,000 and 100,000 ideas in the portfolio. Then the scheduled path's concurrency:
iterations and ideas per hour with K = 1, 2, 4, 8 loop slots under a real ``qcluster``
against the fake server with a 1-second latency per call and the example theme's duty
cycle 0.75 (each K measured for ``--window`` seconds and extrapolated), beside the
foreground ``runloop``. Each part of the report is a section function listed in
``SECTIONS``; ``main()`` prints them in order.

    .venv/bin/python benchmarks/loop.py [--iterations 100] [--blocks 5] [--sizes 0,1000,100000]
        [--warmup 10] [--concurrency 1,2,4,8] [--window 60] [--langgraph]

Beside our overhead at each size it prints a LangGraph + SqliteSaver loop's
(``langgraph_loop.py``: the same iteration the plain LangGraph way, same fake server and
wire path), measured in alternating blocks with ours; ``--langgraph`` runs it alone.
Both loops' time is then split into the shared wire path (render + HTTP, which includes
the fake's own answering, + parse: per model call, with the prompt tokens it carried,
which our portfolio context makes ~3x LangGraph's) and the rest, the loop itself.

Everything happens in a throwaway SQLite database under a temporary BIZAGENT_VAR_DIR;
the model server is the fake from tests/ on loopback, answering like a well-behaved
gpt-oss (the scripted studio of tests/goals/studio.py) as real Harmony tokens.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import harness  # first: sets Django up on a throwaway SQLite database
from django.conf import settings

import bizagent.llm.backends.vllm as vllm_backend
from goals.models import Iteration
from goals.services import iteration_run
from goals.work import context_epoch
from ideas.models import Idea, Theme
from ideas.services import portfolio_counters_rebuild, theme_activate_from_files
from tests.fake_gptoss import FakeGptOss, FakeReply
from tests.goals.scheduled_run import RunResult, loop_run
from tests.goals.studio import Studio

try:
    from langgraph_loop import LangGraphLoop
except ImportError as missing:
    # The yardstick only: without the bench extra the rest of the benchmark still runs.
    if not (missing.name or "").startswith("langgraph"):
        raise
    LangGraphLoop = None  # type: ignore[assignment,misc]
LANGGRAPH_MISSING = (
    "LangGraph + SqliteSaver: not installed, so no comparison; `make bench` installs it "
    "(pip install -e '.[bench]')"
)

ROOT = harness.ROOT
VAR_DIR = harness.VAR_DIR
EXAMPLE = ROOT / "ideas" / "example_theme"
TIMERS: dict[str, float] = defaultdict(float)
#: What the shared wire path (``bizagent.llm``'s vLLM backend) carried: calls and prompt
#: tokens, for ours and LangGraph's alike.
WIRE: dict[str, int] = defaultdict(int)


def _timed(name: str, function):
    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            TIMERS[name] += (time.perf_counter() - started) * 1000

    return wrapper


def _counted(function):
    def wrapper(*args, **kwargs):
        ids = function(*args, **kwargs)
        WIRE["calls"] += 1
        WIRE["prompt_tokens"] += len(ids)
        return ids

    return wrapper


# The vLLM backend renders and parses client-side; time those calls where it makes them,
# and the HTTP round trip (which includes the fake server's own answering).
vllm_backend.harmony_render = _timed("render", _counted(vllm_backend.harmony_render))
vllm_backend.http_post_json = _timed("http", vllm_backend.http_post_json)
vllm_backend.harmony_parse = _timed("parse", vllm_backend.harmony_parse)
vllm_backend.result_build = _timed("parse", vllm_backend.result_build)


def portfolio_fill(theme: Theme, size: int) -> None:
    """Bulk-create ideas until the theme has ``size`` of them."""
    have = Idea.objects.filter(theme=theme).count()
    batch: list[Idea] = []
    for n in range(have, size):
        title = f"Portfolio idea {n}: {('tea', 'plush', 'mug', 'card')[n % 4]} for workers"
        batch.append(
            Idea(
                theme=theme,
                title=title,
                summary=f"Idea {n}: a calm product for people at the end of a long day.",
                target_audience="office workers",
                value_proposition="a small reward",
                revenue_model="¥2,000 per unit",
                fingerprint=hashlib.sha256(title.lower().encode()).hexdigest(),
                brand_fit=float(n % 11),
                novelty=float((n * 7) % 11),
                feasibility=float((n * 3) % 11),
                priority=float(n % 101) / 10,
            )
        )
        if len(batch) >= 5000:
            Idea.objects.bulk_create(batch)
            batch = []
    Idea.objects.bulk_create(batch)
    # Inserted around the services: recount what portfolio_stats reads.
    portfolio_counters_rebuild(theme=theme)


def _wire(elapsed_ms: float, iterations: int) -> dict:
    """The shared wire path's share of a block (render + HTTP + parse, per model call and
    per iteration), its prompt tokens per call, and what is left: the loop's own part."""
    calls = WIRE["calls"] or 1
    wire = TIMERS["render"] + TIMERS["http"] + TIMERS["parse"]
    return {
        "wire_ms_per_call": wire / calls,
        "prompt_tokens_per_call": WIRE["prompt_tokens"] / calls,
        "calls_per_iteration": WIRE["calls"] / iterations,
        "loop_ms": (elapsed_ms - wire) / iterations,
    }


def prefix_fractions(first_id: int) -> dict[str, float]:
    """Per role: the prompt tokens shared with the previous call of the same role, over
    all its prompt tokens, for the iterations from ``first_id`` on whose previous call
    of the role falls in the same portfolio epoch (``context_epoch``: the block the
    prompts open with is rebuilt between epochs)."""
    shared: dict[str, int] = defaultdict(int)
    prompt: dict[str, int] = defaultdict(int)
    last_epoch: dict[str, int] = {}
    rows = Iteration.objects.filter(id__gte=first_id, prompt_tokens__gt=0).order_by("number")
    for role, number, tokens, common in rows.values_list(
        "role", "number", "prompt_tokens", "prefix_shared_tokens"
    ):
        epoch = context_epoch(number)
        if last_epoch.get(role) == epoch:
            shared[role] += common
            prompt[role] += tokens
        last_epoch[role] = epoch
    return {role: shared[role] / prompt[role] for role in prompt if prompt[role]}


def phase(label: str, iterations: int) -> dict:
    TIMERS.clear()
    WIRE.clear()
    queries: list[int] = []
    first_id = (Iteration.objects.order_by("-id").values_list("id", flat=True).first() or 0) + 1
    totals: dict[str, float] = defaultdict(float)
    durations = []
    started = time.perf_counter()
    for _ in range(iterations):
        with harness.queries_counted() as seen:
            tick = time.perf_counter()
            report = iteration_run(worker="bench", scheduled=False)
            durations.append((time.perf_counter() - tick) * 1000)
        queries.append(len(seen))
        if not report.ran:
            raise SystemExit(f"the loop did not run: {report.status}: {report.detail}")
        for name in ("context", "http"):
            totals[name] += report.timings.get(name, 0.0)
    elapsed = time.perf_counter() - started
    total_ms = elapsed * 1000
    render, parse = TIMERS["render"], TIMERS["parse"]
    # The backend's parse time includes nothing of HTTP; HTTP (latency_ms) includes
    # neither rendering nor parsing, so the rest is the database and the loop's own work.
    database = total_ms - totals["context"] - totals["http"] - render - parse
    its = Iteration.objects.filter(id__gte=first_id)
    return {
        "label": label,
        "iterations": iterations,
        "per_second": iterations / elapsed,
        "ms_mean": total_ms / iterations,
        "ms_p50": statistics.median(durations),
        "ms_p95": sorted(durations)[int(0.95 * (len(durations) - 1))],
        "breakdown": {
            "database + bookkeeping": database / iterations,
            "context (DB reads + token counting)": totals["context"] / iterations,
            "Harmony rendering": render / iterations,
            "HTTP (loopback, zero delay)": totals["http"] / iterations,
            "parsing + validation": parse / iterations,
        },
        "first_id": first_id,
        "queries_mean": statistics.mean(queries),
        "queries_max": max(queries),
        "ideas": Idea.objects.count(),
        "failed": its.filter(outcome="failed").count(),
        **_wire(total_ms, iterations),
    }


def show(result: dict) -> None:
    print(
        f"\n== {result['label']}: {result['ideas']:,} ideas after the run, "
        f"{result['iterations']} iterations, {result['failed']} failed"
    )
    print(
        f"  {result['per_second']:.1f} iterations/s; {result['ms_mean']:.1f} ms/iteration "
        f"(p50 {result['ms_p50']:.1f}, p95 {result['ms_p95']:.1f})"
    )
    for name, value in result["breakdown"].items():
        share = value / result["ms_mean"] if result["ms_mean"] else 0
        print(f"    {name:<38} {value:7.2f} ms  {share:5.1%}")
    print(
        f"  queries per iteration: {result['queries_mean']:.1f} mean, "
        f"{result['queries_max']} at most"
    )
    shares = ", ".join(f"{role} {value:.1%}" for role, value in result["prefix"].items())
    print(
        "  shared-prefix fraction per role (with its previous call, same epoch, all blocks): "
        f"{shares}"
    )


def theme_ready() -> Theme:
    """The example theme, active, with neither rest nor a token budget in the way."""
    theme = theme_activate_from_files(
        ip_profile_path=EXAMPLE / "ip_profile.json", config_path=EXAMPLE / "config.json"
    )
    config = dict(theme.config)
    # Measure the loop, not the rest the duty cycle asks for or the daily budget.
    config["iteration_policy"] = {
        **config["iteration_policy"],
        "duty_cycle": 1.0,
        "daily_token_budget": 10**12,
    }
    Theme.objects.filter(pk=theme.pk).update(config=config)
    return Theme.objects.get(pk=theme.pk)


def fake_server_use(fake: FakeGptOss) -> None:
    """Point the loop at ``fake``, answering like the scripted studio, as Harmony tokens."""
    studio = Studio()
    fake.responder = lambda request: FakeReply(
        analysis="Thinking about the brand.",
        final=json.dumps(studio.answer(request.prompt_text)[1], ensure_ascii=False),
    )
    settings.LLM_BACKEND = "vllm"
    settings.LLM_BASE_URL = fake.base_url("vllm")
    settings.LLM_MAX_RETRIES = 0


def langgraph_block(loop: LangGraphLoop, iterations: int) -> dict:
    """``iterations`` more LangGraph iterations: wall milliseconds per iteration
    (``ms``) and the wire path's share (``_wire``)."""
    TIMERS.clear()
    WIRE.clear()
    started = time.perf_counter()
    state = loop.run(iterations)
    if not state["ideas"]:
        raise SystemExit("the LangGraph loop produced no ideas")
    elapsed_ms = (time.perf_counter() - started) * 1000
    return {"ms": elapsed_ms / iterations, **_wire(elapsed_ms, iterations)}


def _median_block(blocks: list[dict]) -> dict:
    """The block whose mean is the median one (its breakdown is shown), with the median
    of all block means as ``ms_median``: the figure compared and reported."""
    ordered = sorted(blocks, key=lambda block: block["ms_mean"])
    middle = dict(ordered[len(ordered) // 2])
    middle["ms_block_means"] = [block["ms_mean"] for block in blocks]
    middle["ms_median"] = statistics.median(middle["ms_block_means"])
    return middle


def section_overhead(args: argparse.Namespace, theme: Theme) -> list[dict]:
    """Our own overhead per iteration at each portfolio size, its parts, queries, prefix,
    beside a LangGraph + SqliteSaver loop's (``benchmarks/langgraph_loop.py``).

    Both loops call the same zero-latency fake server over the same wire path (HTTP,
    Harmony rendered and parsed client-side), so both figures include HTTP and Harmony.
    They run in alternating blocks (``--blocks`` of ``--iterations`` each: ours, then
    LangGraph's, ...) so machine noise hits both alike; each figure is the median of its
    block means. LangGraph starts a fresh thread on a fresh SQLite file at each size.
    """
    print(
        f"\n# Overhead per iteration (zero-latency model; {args.blocks} alternating blocks "
        f"of {args.iterations} after {args.warmup} uncounted warm-up iterations of each, "
        "median of block means; breakdown of the median block)"
    )
    if LangGraphLoop is None:
        print(f"  {LANGGRAPH_MISSING}")
    results = []
    with FakeGptOss() as fake:
        fake_server_use(fake)
        for size in (int(s) for s in args.sizes.split(",") if s.strip()):
            portfolio_fill(theme, size)
            label = "fresh portfolio" if size == 0 else f"{size:,} ideas"
            yardstick = LangGraphLoop() if LangGraphLoop is not None else None
            # One-time costs (the Harmony vocabulary loaded, schemas and statements
            # compiled, LangGraph's graph built) are not per-iteration overhead: both
            # loops first run uncounted iterations at each size.
            if args.warmup > 0:
                phase(label, args.warmup)
                if yardstick is not None:
                    langgraph_block(yardstick, args.warmup)
            blocks, langgraph = [], []
            # The fake's own answering time (the stand-in model's, in both wall figures).
            answering = {"ours": 0.0, "langgraph": 0.0}
            for _ in range(args.blocks):
                before = fake.answering_seconds
                blocks.append(phase(label, args.iterations))
                answering["ours"] += fake.answering_seconds - before
                if yardstick is not None:
                    before = fake.answering_seconds
                    langgraph.append(langgraph_block(yardstick, args.iterations))
                    answering["langgraph"] += fake.answering_seconds - before
            calls = args.blocks * args.iterations
            result = _median_block(blocks)
            result["answering_ms"] = answering["ours"] * 1000 / calls
            # Over every block, not the median one's alone: a role called once in ten
            # iterations has only a few calls in one block whose previous call shares
            # its epoch, and one of them swung its figure by several points.
            result["prefix"] = prefix_fractions(blocks[0]["first_id"])
            show(result)
            means = ", ".join(f"{mean:.1f}" for mean in result["ms_block_means"])
            print(f"  ours: {result['ms_median']:.1f} ms/iteration, median of blocks {means}")
            if yardstick is not None:
                result["langgraph_ms"] = statistics.median(block["ms"] for block in langgraph)
                result["langgraph_block_means"] = [block["ms"] for block in langgraph]
                result["langgraph_checkpoints"] = yardstick.checkpoints()
                yardstick.close()
                ratio = result["ms_median"] / result["langgraph_ms"]
                print(
                    f"  LangGraph + SqliteSaver: {result['langgraph_ms']:.1f} ms/iteration; "
                    f"ours {result['ms_median']:.1f} ms ({label}) = {ratio:.1f}x (aim: <= 2x)"
                )
                result["langgraph_answering_ms"] = answering["langgraph"] * 1000 / calls
                print(
                    "  both include the fake server's own answering (the stand-in model's "
                    f"time): ours {result['answering_ms']:.1f} ms, LangGraph "
                    f"{result['langgraph_answering_ms']:.1f} ms per iteration (mean)"
                )
                ours_rest = result["ms_median"] - result["answering_ms"]
                theirs_rest = result["langgraph_ms"] - result["langgraph_answering_ms"]
                print(
                    f"  less the fake's answering: ours {ours_rest:.1f} ms, LangGraph "
                    f"{theirs_rest:.1f} ms per iteration = {ours_rest / theirs_rest:.1f}x"
                )
                _wire_show(result, blocks, langgraph)
            results.append(result)
    by_size = {r["label"]: r["ms_median"] for r in results}
    if "1,000 ideas" in by_size and "100,000 ideas" in by_size:
        ratio = by_size["100,000 ideas"] / by_size["1,000 ideas"]
        print(f"\n  100,000 ideas cost {ratio:.2f}x what 1,000 cost per iteration (aim: <= 1.2x)")
    return results


def _wire_show(result: dict, ours: list[dict], langgraph: list[dict]) -> None:
    """Both loops' wall time split into the shared wire path and the rest (medians of the
    blocks): the wire path costs what the prompt's length makes it cost, in both."""
    ours_loop = statistics.median(block["loop_ms"] for block in ours)
    theirs_loop = statistics.median(block["loop_ms"] for block in langgraph)
    ours_wire = statistics.median(block["wire_ms_per_call"] for block in ours)
    theirs_wire = statistics.median(block["wire_ms_per_call"] for block in langgraph)
    ours_tokens = statistics.mean(block["prompt_tokens_per_call"] for block in ours)
    theirs_tokens = statistics.mean(block["prompt_tokens_per_call"] for block in langgraph)
    result["loop_ms"], result["langgraph_loop_ms"] = ours_loop, theirs_loop
    result["wire_ms_per_call"], result["langgraph_wire_ms_per_call"] = ours_wire, theirs_wire
    print(
        "  the shared wire path (render + HTTP with the fake's answering + parse) per model "
        f"call: ours {ours_wire:.1f} ms for {ours_tokens:,.0f} prompt tokens, LangGraph "
        f"{theirs_wire:.1f} ms for {theirs_tokens:,.0f}"
    )
    print(
        f"  the rest per iteration (the loop itself): ours {ours_loop:.1f} ms, LangGraph "
        f"{theirs_loop:.1f} ms"
    )


def section_langgraph(args: argparse.Namespace, theme: Theme | None = None) -> list[dict]:
    """The LangGraph + SqliteSaver yardstick alone (``--langgraph``): its wall milliseconds
    per iteration against the zero-latency fake server, median of ``--blocks`` blocks."""
    print(
        f"\n# LangGraph + SqliteSaver loop alone (zero-latency model; {args.blocks} blocks "
        f"of {args.iterations}, median of block means)"
    )
    if LangGraphLoop is None:
        print(f"  {LANGGRAPH_MISSING}")
        return []
    with FakeGptOss() as fake:
        fake_server_use(fake)
        yardstick = LangGraphLoop()
        means = [langgraph_block(yardstick, args.iterations)["ms"] for _ in range(args.blocks)]
        state, checkpoints = yardstick.state() or {}, yardstick.checkpoints()
        yardstick.close()
    print(
        f"  LangGraph + SqliteSaver: {statistics.median(means):.1f} ms/iteration "
        f"(blocks: {', '.join(f'{m:.1f}' for m in means)}); {len(state.get('ideas', [])):,} "
        f"ideas in its state, {checkpoints:,} checkpoints"
    )
    return [{"langgraph_ms": statistics.median(means), "langgraph_block_means": means}]


def _concurrency_row(label: str, result: RunResult, base: float | None) -> None:
    scale = f"{result.per_hour / base:5.2f}x" if base else "     "
    print(
        f"  {label:<28} {result.per_hour:8,.0f} it/h {scale}  {result.ideas_per_hour:8,.0f} "
        f"ideas/h  at once <= {result.most_at_once}  busy {result.busy_share:5.1%}  "
        f"twice {len(result.done_twice)}  after stop {result.started_after_stop}  "
        f"locked {result.locked_errors}  failed {result.failed}"
    )


def section_concurrency(args: argparse.Namespace, theme: Theme | None = None) -> list[dict]:
    """Iterations and ideas per hour with K loop slots on the scheduled path (a real
    qcluster, K + 1 workers, ORM broker, SQLite file) against the fake server with
    ``--latency`` seconds per call, duty cycle on; the foreground ``runloop`` beside it.

    "busy" is the iterations' time over K times the run's wall time (the duty cycle
    asks for at most 75%, less the rest of the tick's own work); "twice" counts tasks
    done twice, "after stop" iterations started after ``runloop stop`` returned, and
    "locked" "database is locked" errors in the cluster's log: all should be 0.
    """
    duty, window, latency = args.duty, args.window, args.latency
    print(
        f"\n# Scheduled loop, K concurrent iterations ({latency:g} s per model call, "
        f"duty cycle {duty:g}, {window:g} s per K, per hour extrapolated)"
    )
    root = Path(tempfile.mkdtemp(prefix="bizagent-loop-k-"))
    results = []
    foreground = loop_run(
        var_dir=root / "runloop",
        concurrency=1,
        seconds=window,
        duty=duty,
        latency=latency,
        foreground=True,
    )
    _concurrency_row("runloop (foreground), K=1", foreground, None)
    base = None
    for k in (int(s) for s in args.concurrency.split(",") if s.strip()):
        result = loop_run(
            var_dir=root / f"k{k}", concurrency=k, seconds=window, duty=duty, latency=latency
        )
        base = base or result.per_hour / k
        _concurrency_row(f"scheduled (qcluster), K={k}", result, base)
        results.append({"k": k, **{n: getattr(result, n) for n in _FIGURES}})
    print(
        "  (the scale column is it/h over K=1's; the issue measured the scheduled loop at "
        "0.13x of runloop before loop slots and rests that end when they end)"
    )
    results.append({"k": "runloop", **{n: getattr(foreground, n) for n in _FIGURES}})
    return results


_FIGURES = (
    "per_hour",
    "ideas_per_hour",
    "most_at_once",
    "busy_share",
    "started_after_stop",
    "locked_errors",
    "failed",
)


# Each section prints its own part of the report; add one by appending it here.
SECTIONS = [section_overhead, section_concurrency]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iterations", type=int, default=100, help="iterations per block")
    parser.add_argument(
        "--blocks", type=int, default=5, help="alternating blocks of ours and LangGraph's"
    )
    parser.add_argument(
        "--langgraph", action="store_true", help="only the LangGraph + SqliteSaver yardstick"
    )
    parser.add_argument("--sizes", default="0,1000,100000", help="portfolio sizes to fill")
    parser.add_argument(
        "--warmup",
        type=int,
        default=10,
        help="uncounted iterations of each loop before the blocks at each size",
    )
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    parser.add_argument("--concurrency", default="1,2,4,8", help="K values (empty: skip)")
    parser.add_argument("--window", type=float, default=60.0, help="seconds measured per K")
    parser.add_argument("--latency", type=float, default=1.0, help="seconds per model call")
    parser.add_argument("--duty", type=float, default=0.75, help="duty cycle of the K runs")
    args = parser.parse_args()
    theme = theme_ready()
    print(f"bizagent loop benchmark (SQLite in {VAR_DIR})")
    # --langgraph runs the yardstick alone; otherwise it runs inside section_overhead.
    sections = [section_langgraph] if args.langgraph else SECTIONS
    results = {
        section.__name__: section(args, theme)
        for section in sections
        # An empty --concurrency skips the scheduled-path section; empty --sizes or no
        # --iterations the overhead section.
        if (section is not section_concurrency or args.concurrency.strip())
        and (section is not section_overhead or (args.sizes.strip() and args.iterations > 0))
    }
    if args.json:
        print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
