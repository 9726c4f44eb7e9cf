"""Run the loop for real for a while and read back what it did.

A private SQLite file, the example theme (``ideas/example_theme/``) with the duty cycle
and budget asked for, the fake gpt-oss server from tests/ on loopback answering like
the studio after ``latency`` seconds per call (each call in its own thread, like a
batching server), and either the scheduled path (``runloop start`` + a real
``manage.py qcluster`` on the ORM broker) or the foreground ``runloop``. Used by the
bounded test in ``test_scheduled_cluster.py`` and by ``benchmarks/loop.py``.
"""

from __future__ import annotations

import datetime as dt
import json
import signal
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.fake_gptoss import FakeGptOss, FakeReply
from tests.goals.studio import Studio
from tests.processes import ROOT, Processes, manage_env, manage_run, migrate, wait_until

EXAMPLE = ROOT / "ideas" / "example_theme"
DONE = ("ok", "repaired")


@dataclass
class RunResult:
    concurrency: int
    workers: int
    seconds: float
    iterations: int
    ideas: int
    most_at_once: int
    busy_share: float  # work (iteration time) / (K × the run's wall time)
    done_twice: list[int]
    started_after_stop: int
    locked_errors: int
    failed: int
    output: str = field(repr=False, default="")

    @property
    def per_hour(self) -> float:
        return self.iterations * 3600 / self.seconds

    @property
    def ideas_per_hour(self) -> float:
        return self.ideas * 3600 / self.seconds


def _manage(env: dict[str, str], *args: str) -> str:
    done = manage_run(*args, env=env)
    if done.returncode:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def _when(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


def _theme_files(var_dir: Path, *, duty: float, budget: int) -> tuple[Path, Path]:
    config = json.loads((EXAMPLE / "config.json").read_text())
    config["iteration_policy"].update(duty_cycle=duty, daily_token_budget=budget)
    path = var_dir / "config.json"
    path.write_text(json.dumps(config, ensure_ascii=False))
    return EXAMPLE / "ip_profile.json", path


def _studio_server(latency: float) -> FakeGptOss:
    studio = Studio()
    lock = threading.Lock()

    def respond(request) -> FakeReply:
        with lock:  # the studio keeps counters; the latency is slept outside the lock
            analysis, answer = studio.answer(request.prompt_text)
        return FakeReply(
            analysis=analysis, final=json.dumps(answer, ensure_ascii=False), delay=latency
        )

    fake = FakeGptOss()
    fake.responder = respond
    return fake


def loop_run(
    *,
    var_dir: Path,
    concurrency: int,
    seconds: float,
    duty: float = 0.75,
    latency: float = 1.0,
    workers: int | None = None,
    budget: int = 10**9,
    foreground: bool = False,
) -> RunResult:
    """Run the loop ``seconds`` long and report; the scheduled path unless
    ``foreground`` (one ``runloop`` process, for comparison)."""
    workers = workers or concurrency + 1
    var_dir.mkdir(parents=True, exist_ok=True)
    processes = Processes()
    with _studio_server(latency) as fake:
        env = manage_env(
            var_dir,
            BIZAGENT_LLM_BACKEND="vllm",
            BIZAGENT_LLM_BASE_URL=fake.base_url("vllm"),
            BIZAGENT_LLM_MAX_RETRIES="0",
            BIZAGENT_LOOP_CONCURRENCY=str(concurrency),
            BIZAGENT_Q_WORKERS=str(workers),
            BIZAGENT_LOG_LEVEL="INFO",
        )
        migrate(env)
        ip_profile, config = _theme_files(var_dir, duty=duty, budget=budget)
        _manage(env, "newtheme", "--ip-profile", str(ip_profile), "--config", str(config))
        try:
            if foreground:
                loop = processes.start("runloop", env=env)
                time.sleep(seconds)
                loop.send_signal(signal.SIGINT)
                output, _ = loop.communicate(timeout=120)
                stopped_at = dt.datetime.now(dt.UTC)
            else:
                _manage(env, "runloop", "start")
                cluster = processes.start("qcluster", env=env)
                # The first tick now, not at the scheduler's first look (30 s in).
                _manage(
                    env,
                    "shell",
                    "-c",
                    "from django_q.tasks import async_task; async_task('goals.tasks.loop_tick')",
                )
                time.sleep(seconds)
                _manage(env, "runloop", "stop")
                stopped_at = dt.datetime.now(dt.UTC)
                wait_until(lambda: not _slots_held(var_dir), timeout=60)
                cluster.send_signal(signal.SIGTERM)
                output, _ = cluster.communicate(timeout=60)
        finally:
            processes.cleanup()
    return _read(
        var_dir,
        concurrency=concurrency,
        workers=workers,
        seconds=seconds,
        stopped_at=stopped_at,
        output=output or "",
    )


def _db(var_dir: Path) -> sqlite3.Connection:
    return sqlite3.connect(var_dir / "bizagent.sqlite3", timeout=30)


def _slots_held(var_dir: Path) -> int:
    with _db(var_dir) as db:
        return db.execute("SELECT count(*) FROM goals_loopslot WHERE owner != ''").fetchone()[0]


def _read(
    var_dir: Path,
    *,
    concurrency: int,
    workers: int,
    seconds: float,
    stopped_at: dt.datetime,
    output: str,
) -> RunResult:
    with _db(var_dir) as db:
        rows = db.execute(
            "SELECT started_at, finished_at, outcome FROM goals_iteration ORDER BY started_at"
        ).fetchall()
        twice = db.execute(
            "SELECT task_id FROM goals_iteration WHERE task_id IS NOT NULL AND outcome IN "
            "(?, ?) GROUP BY task_id HAVING count(*) > 1",
            DONE,
        ).fetchall()
        ideas = db.execute("SELECT count(*) FROM ideas_idea").fetchone()[0]
    spans = [(_when(a), _when(b)) for a, b, _ in rows]
    events = sorted([(a, 1) for a, _ in spans] + [(b, -1) for _, b in spans])
    most = now = 0
    for _, step in events:
        now += step
        most = max(most, now)
    wall = (spans[-1][1] - spans[0][0]).total_seconds() if spans else 0.0
    work = sum((b - a).total_seconds() for a, b in spans)
    return RunResult(
        concurrency=concurrency,
        workers=workers,
        seconds=seconds,
        iterations=len(rows),
        ideas=ideas,
        most_at_once=most,
        busy_share=work / (concurrency * wall) if wall else 0.0,
        done_twice=[task for (task,) in twice],
        started_after_stop=sum(a > stopped_at for a, _ in spans),
        locked_errors=output.count("database is locked"),
        failed=sum(outcome == "failed" for _, _, outcome in rows),
        output=output,
    )
