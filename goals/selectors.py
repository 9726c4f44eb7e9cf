"""Reads for the loop, the admin panel and ``runloop status``."""

from __future__ import annotations

import base64
import datetime as dt
import functools
import threading
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Sum
from django.utils import timezone
from django_q.models import Schedule

from bizagent.sql import (
    column,
    columns,
    models_from_rows,
    rows_fetch,
    statement,
    table,
    value_from_db,
)
from goals.models import (
    PLAN,
    Iteration,
    LoopState,
    PlanRevision,
    Role,
    RolePrompt,
    Task,
    TokenDay,
    TokenGrant,
)
from goals.stats import prompt_ids_bytes, prompt_ids_unpack
from ideas.models import Theme
from ideas.selectors import theme_active

#: ``since`` lists read at most this many rows past their anchor: an anchor is a context
#: epoch (ten iterations) plus the few lines before it, so this only bounds a bad anchor.
RECENT_SINCE_CAP = 100

#: The django-q2 schedule that ticks the 24/7 loop (written by ``goals.services.loop``).
LOOP_SCHEDULE_NAME = "goals.loop_tick"


def day_start(now: dt.datetime) -> dt.datetime:
    """Midnight of ``now``'s day in the project's time zone: when the daily budget resets."""
    local = timezone.localtime(now)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def tokens_used_today(*, theme: Theme, now: dt.datetime | None = None) -> int:
    """The tokens the theme's iterations spent today (its ``TokenDay`` row)."""
    now = now or timezone.now()
    total = (
        TokenDay.objects.filter(theme=theme, day=day_start(now).date())
        .values_list("tokens", flat=True)
        .first()
    )
    return int(total or 0)


def failures_in_a_row(*, theme: Theme, limit: int, error_classes: Collection[str]) -> bool:
    """Whether the theme's last ``limit`` iterations that called the model all failed
    with one of ``error_classes``."""
    rows = list(
        Iteration.objects.filter(theme=theme, model_calls__gt=0)
        .order_by("-id")
        .values_list("outcome", "error_class")[:limit]
    )
    return len(rows) == limit and all(
        outcome == Iteration.Outcome.FAILED and error in error_classes for outcome, error in rows
    )


def tokens_granted_today(*, theme: Theme, now: dt.datetime | None = None) -> int:
    now = now or timezone.now()
    total = TokenGrant.objects.filter(theme=theme, day=day_start(now).date()).aggregate(
        total=Sum("tokens")
    )["total"]
    return int(total or 0)


def queue_counts(*, theme: Theme) -> dict[str, int]:
    rows = Task.objects.filter(theme=theme).values("status").annotate(n=Count("id"))
    return {row["status"]: row["n"] for row in rows}


def iteration_number_last(*, theme: Theme) -> int:
    last = (
        Iteration.objects.filter(theme=theme)
        .order_by("-number")
        .values_list("number", flat=True)
        .first()
    )
    return int(last or 0)


def recent_ideator_texts(*, theme: Theme, limit: int) -> list[str]:
    """The last ``limit`` successful ideator outputs as comparable text, oldest first
    (``recent_update_texts``: each stored answer decoded once per process)."""
    return recent_update_texts(theme=theme, role=Role.IDEATOR, limit=limit, text_of=ideator_text)


def _recent_answer_rows(*, theme: Theme, role: str, limit: int) -> list[Any]:
    """The stored ``parsed`` column (as the driver gives it) of the role's last ``limit``
    successful iterations, oldest first."""
    # Written out (read every iteration; the ORM's query cost ~15x the statement).
    params = [theme.pk, role, Iteration.Outcome.OK.value, Iteration.Outcome.REPAIRED.value, limit]
    return [parsed for (parsed,) in reversed(rows_fetch(_recent_answers_sql(), params))]


@statement
def _recent_answers_sql() -> str:
    return (
        f"SELECT {column(Iteration, 'parsed')} FROM {table(Iteration)} "  # noqa: S608 - names from model metadata
        f"WHERE {column(Iteration, 'theme')} = %s AND {column(Iteration, 'role')} = %s "
        f"AND {column(Iteration, 'outcome')} IN (%s, %s) "
        f"ORDER BY {column(Iteration, 'id')} DESC LIMIT %s"
    )


def _parsed_decode(raw: Any) -> Any:
    """One stored ``parsed`` value through the JSON field's own converters."""
    return value_from_db(Iteration, "parsed", raw)


def recent_answers(*, theme: Theme, role: str, limit: int) -> list[Any]:
    """The parsed answers of the last ``limit`` successful iterations of ``role``, oldest
    first: what stagnation compares a new answer with."""
    answers = []
    for raw in _recent_answer_rows(theme=theme, role=role, limit=limit):
        parsed = _parsed_decode(raw)
        if parsed:
            answers.append(parsed)
    return answers


#: How many stored answers' texts ``_answer_text`` remembers (per process): a role's
#: window (twice the stagnation window) for each of the six roles, and the ideator's
#: recent directions (``recent_directions_split``: at most ~20), with room.
ANSWER_TEXTS_KEPT = 256
_NO_TEXT = object()


class _AnswerTexts(threading.local):
    """(text function, stored JSON text) → the text, or ``_NO_TEXT`` for an empty answer."""

    def __init__(self) -> None:
        self.kept: OrderedDict[tuple[Callable[[Any], str | None], str], object] = OrderedDict()


_answer_texts = _AnswerTexts()


def _answer_text(raw: Any, text_of: Callable[[Any], str | None]) -> str | None:
    """``text_of`` of one stored ``parsed`` value (None: no text), remembered per process
    on the stored JSON text itself and on ``text_of``.

    The loop reads the same stored answers iteration after iteration (stagnation's
    window, the ideator's recent directions): decoding their JSON each time was most of
    what those reads cost. An answer written or changed since is a new key, read afresh,
    never a stale text. A driver that decodes JSON itself (PostgreSQL's jsonb) gives no
    text to key on: those are converted every time.
    """
    if not isinstance(raw, str):
        return text_of(_parsed_decode(raw))
    kept = _answer_texts.kept
    key = (text_of, raw)
    text = kept.get(key)
    if text is None:
        made = text_of(_parsed_decode(raw))
        text = _NO_TEXT if made is None else made
        kept[key] = text
        if len(kept) > ANSWER_TEXTS_KEPT:
            kept.popitem(last=False)
    else:
        kept.move_to_end(key)
    return None if text is _NO_TEXT else str(text)


def recent_update_texts(
    *, theme: Theme, role: str, limit: int, text_of: Callable[[Any], str]
) -> list[str]:
    """``text_of`` of each of ``recent_answers``' answers, oldest first, each remembered
    (``_answer_text``)."""
    texts = []
    for raw in _recent_answer_rows(theme=theme, role=role, limit=limit):
        text = _answer_text(raw, _unless_empty(text_of))
        if text is not None:
            texts.append(text)
    return texts


@functools.lru_cache(maxsize=32)
def _unless_empty(text_of: Callable[[Any], str]) -> Callable[[Any], str | None]:
    """``text_of``, or None for an empty answer: one function per ``text_of``, so that
    ``_answer_text`` keys on the same one every time."""

    def text(parsed: Any) -> str | None:
        return text_of(parsed) if parsed else None

    return text


def recent_directions(*, theme: Theme, limit: int) -> list[str]:
    """The directions recent ideator batches explored, newest first, for a shake-up."""
    rows = (
        Iteration.objects.filter(
            theme=theme,
            role=Role.IDEATOR,
            outcome__in=(Iteration.Outcome.OK, Iteration.Outcome.REPAIRED),
        )
        .order_by("-id")
        .values_list("parsed", flat=True)[:limit]
    )
    directions = []
    for parsed in rows:
        if not isinstance(parsed, dict):
            continue
        directions.append(_direction_line(parsed))
    return directions


def recent_directions_since(*, theme: Theme, limit: int, since: int) -> list[str]:
    """The directions of the last ``limit`` ideator batches before iteration ``since``,
    then of every batch since, oldest first: a list that only grows while ``since``
    stays put (``recent_directions`` is the newest-first view stagnation stores)."""
    before, after = recent_directions_split(theme=theme, limit=limit, since=since)
    return before + after


@statement
def _ideator_batches_sql() -> str:
    return (
        f"SELECT {column(Iteration, 'number')}, {column(Iteration, 'parsed')} "  # noqa: S608 - names from model metadata
        f"FROM {table(Iteration)} WHERE {column(Iteration, 'theme')} = %s "
        f"AND {column(Iteration, 'role')} = %s AND {column(Iteration, 'outcome')} IN (%s, %s) "
        f"ORDER BY {column(Iteration, 'number')} DESC LIMIT %s"
    )


def recent_directions_split(*, theme: Theme, limit: int, since: int) -> tuple[list[str], list[str]]:
    """``recent_directions_since`` in its two parts, each oldest first: the last ``limit``
    batches before iteration ``since`` (the same lines for every call while ``since``
    stays put) and every batch since (the part that grows)."""
    # Written out (read by every ideator call; the ORM's build of it cost ~5x the
    # statement): what ``values_list("number", "parsed")`` over the theme's successful
    # ideator iterations by number, newest first, read.
    params = [
        theme.pk,
        Role.IDEATOR.value,
        Iteration.Outcome.OK.value,
        Iteration.Outcome.REPAIRED.value,
        limit + RECENT_SINCE_CAP,
    ]
    rows = rows_fetch(_ideator_batches_sql(), params)
    # Newest first: the batches since, then the ``limit`` before; the rest of the rows
    # (read because how many are "since" is not known up front) are not decoded.
    after = [raw for number, raw in rows if number >= since]
    before = [raw for number, raw in rows if number < since][:limit]
    return (
        _direction_lines(reversed(before)),
        _direction_lines(reversed(after)),
    )


def _direction_lines(raws: Iterable[Any]) -> list[str]:
    lines = (_answer_text(raw, _direction_text) for raw in raws)
    return [line for line in lines if line is not None]


def _direction_text(parsed: Any) -> str | None:
    return _direction_line(parsed) if isinstance(parsed, dict) else None


def _direction_line(parsed: dict[str, Any]) -> str:
    titles = "; ".join(i.get("title", "") for i in parsed.get("ideas", [])[:3])
    return f"{parsed.get('direction', '').strip()} ({titles})"


def ideator_text(parsed: Any) -> str:
    """An ideator answer as one text: its direction and each idea's title and summary."""
    if not isinstance(parsed, dict):
        return ""
    parts = [str(parsed.get("direction", ""))]
    for idea in parsed.get("ideas", []):
        parts.append(f"{idea.get('title', '')}. {idea.get('summary', '')}")
    return "\n".join(parts)


#: What ``recent_work`` reads of an iteration: not its answer, calls or analysis (the
#: bulk of the row), which the ORM's instances read and converted for nothing.
_RECENT_WORK_FIELDS = ("number", "task_kind", "role", "result", "outcome", "error_class")


@statement
def _recent_work_latest_sql() -> str:
    return (
        f"SELECT {', '.join(column(Iteration, name) for name in _RECENT_WORK_FIELDS)} "  # noqa: S608 - names from model metadata
        f"FROM {table(Iteration)} WHERE {column(Iteration, 'theme')} = %s "
        f"ORDER BY {column(Iteration, 'id')} DESC LIMIT %s"
    )


@statement
def _recent_work_since_sql() -> str:
    return (
        f"SELECT {', '.join(column(Iteration, name) for name in _RECENT_WORK_FIELDS)} "  # noqa: S608 - names from model metadata
        f"FROM {table(Iteration)} WHERE {column(Iteration, 'theme')} = %s "
        f"AND {column(Iteration, 'number')} >= %s "
        f"ORDER BY {column(Iteration, 'number')} ASC LIMIT %s"
    )


def recent_work(*, theme: Theme, limit: int = 8, since: int | None = None) -> list[str]:
    """One line per recent iteration: the last ``limit``, newest first.

    ``since`` (an iteration number): every iteration numbered from it on, oldest first,
    instead, a list that only grows while ``since`` stays put (a prompt that anchors it
    per context epoch shares the earlier call's lines byte for byte).
    """
    # Written out (read by every planner call): the six columns the lines need, where
    # the ORM's instances read whole rows (answers, analysis) at ~10x the cost.
    if since is None:
        rows = rows_fetch(_recent_work_latest_sql(), [theme.pk, limit])
    else:
        rows = rows_fetch(_recent_work_since_sql(), [theme.pk, since, RECENT_SINCE_CAP])
    lines = []
    for number, task_kind, role, raw_result, outcome, error_class in rows:
        result = value_from_db(Iteration, "result", raw_result)
        summary = ", ".join(
            f"{key} {len(value) if isinstance(value, list) else value}"
            for key, value in sorted((result or {}).items())
            if value
        )
        error = f" [{error_class}]" if error_class else ""
        lines.append(f"#{number} {task_kind or PLAN}/{role}: {summary or outcome}{error}")
    return lines


def tasks_blocked(*, limit: int = 50) -> list[Task]:
    """Blocked tasks (they need a person), most recently blocked first, with their theme."""
    return list(
        Task.objects.filter(status=Task.Status.BLOCKED)
        .select_related("theme")
        .order_by("-finished_at", "-id")[:limit]
    )


def tasks_blocked_count() -> int:
    return Task.objects.filter(status=Task.Status.BLOCKED).count()


@dataclass
class LoopStatus:
    """Everything ``runloop status`` and the admin panel show."""

    state: LoopState
    theme: Theme | None
    now: dt.datetime
    queue: dict[str, int] = field(default_factory=dict)
    iterations_last_hour: int = 0
    failures_last_hour: int = 0
    tokens_today: int = 0
    token_budget: int | None = None
    tokens_granted: int = 0
    ideas: int = 0
    last_iteration: Iteration | None = None
    schedule_next_run: dt.datetime | None = None
    scheduled: bool = False

    @property
    def backing_off(self) -> bool:
        return bool(self.state.backoff_until and self.state.backoff_until > self.now)

    @property
    def budget_exhausted(self) -> bool:
        if self.token_budget is None:
            return False
        return self.tokens_today >= self.token_budget + self.tokens_granted

    @property
    def waiting_for_theme(self) -> bool:
        """Started, but no theme to work on (it was removed): the loop does nothing."""
        active = (LoopState.State.RUNNING, LoopState.State.BACKING_OFF)
        return self.theme is None and self.state.state in active

    @property
    def headline(self) -> str:
        text = self.state.get_state_display()
        if self.waiting_for_theme:
            return f"{text} — waiting for a theme: load one with `manage.py newtheme`"
        if self.backing_off and self.state.state != LoopState.State.BACKING_OFF:
            text += " (model server down)"
        if self.budget_exhausted:
            text += " — daily token budget used up, waiting for a decision"
        return text


def loop_state_get() -> LoopState:
    """The loop's state row; it only reads.

    The row is created by the data migration ``0004_loopstate_singleton``. A database
    emptied since (a test flush) reads as the default, a stopped loop, unsaved: the
    state services create the row when they first write it.

    Written out (``bizagent.sql``): every iteration reads it first, and the ORM's build
    of the row's ~25 fields cost ~30 times the statement.
    """
    found = models_from_rows(LoopState, rows_fetch(_loop_state_sql(), [LoopState.SINGLETON_ID]))
    return found[0] if found else LoopState(pk=LoopState.SINGLETON_ID)


@statement
def _loop_state_sql() -> str:
    """The state row by primary key, every column (built once: the names of its ~25
    columns were quoted and joined again on every iteration)."""
    where = f"{column(LoopState, 'id')} = %s"
    return f"SELECT {columns(LoopState)} FROM {table(LoopState)} WHERE {where}"  # noqa: S608 - names from model metadata


@statement
def _role_prompt_sql() -> str:
    """A role's stored prompt ids (the role the parameter)."""
    ids, where = column(RolePrompt, "ids"), f"{column(RolePrompt, 'role')} = %s"
    return f"SELECT {ids} FROM {table(RolePrompt)} WHERE {where}"  # noqa: S608 - names from model metadata


def _role_prompt_text(*, role: str) -> str | None:
    found = rows_fetch(_role_prompt_sql(), [role])
    return found[0][0] if found else None


def role_prompt_ids(*, role: str) -> list[int] | None:
    """The prompt token ids of ``role``'s last call (None before its first); written out
    like ``loop_state_get``."""
    text = _role_prompt_text(role=role)
    return prompt_ids_unpack(text) if text is not None else None


class _RolePromptsKept(threading.local):
    """role → (its stored ``ids`` text, those ids as ``prompt_ids_bytes``)."""

    def __init__(self) -> None:
        self.kept: dict[str, tuple[str, bytes]] = {}


_role_prompts = _RolePromptsKept()


def role_prompt_keep(*, role: str, text: str, data: bytes) -> None:
    """Remember that ``text`` (a ``prompt_ids_pack`` string) holds ``data``: the loop's
    write of a role's last prompt, so its next read of it decodes nothing."""
    _role_prompts.kept[role] = (text, data)


def role_prompt_bytes(*, role: str) -> bytes | None:
    """``role_prompt_ids`` as ``prompt_ids_bytes`` (None before the role's first call);
    read on every model call, for its shared-prefix figure.

    The stored text is read every time, so another worker's write is never missed; it is
    only decoded when it is not the text this process last wrote or read for the role
    (decoding ~5,600 ids cost ~0.2 ms, turning them into a list of ints ~0.4 ms more).
    """
    text = _role_prompt_text(role=role)
    if not isinstance(text, str) or not text:
        ids = prompt_ids_unpack(text)
        return prompt_ids_bytes(ids) if ids else None
    kept = _role_prompts.kept.get(role)
    if kept is not None and kept[0] == text:
        return kept[1]
    data = base64.b64decode(text)
    role_prompt_keep(role=role, text=text, data=data)
    return data


def loop_status(*, now: dt.datetime | None = None) -> LoopStatus:
    """Everything ``runloop status`` and the admin panel show, read in one place."""
    now = now or timezone.now()
    state = loop_state_get()
    theme = theme_active()

    status = LoopStatus(state=state, theme=theme, now=now)
    schedule = Schedule.objects.filter(name=LOOP_SCHEDULE_NAME).first()
    status.scheduled = schedule is not None
    status.schedule_next_run = schedule.next_run if schedule else None
    if theme is None:
        return status
    hour_ago = now - dt.timedelta(hours=1)
    recent = Iteration.objects.filter(theme=theme, started_at__gte=hour_ago)
    status.iterations_last_hour = recent.count()
    status.failures_last_hour = recent.filter(outcome=Iteration.Outcome.FAILED).count()
    status.queue = queue_counts(theme=theme)
    status.tokens_today = tokens_used_today(theme=theme, now=now)
    status.tokens_granted = tokens_granted_today(theme=theme, now=now)
    status.token_budget = theme.daily_token_budget
    status.ideas = theme.ideas.filter(status__in=theme.ideas.model.VISIBLE_STATUSES).count()
    status.last_iteration = Iteration.objects.filter(theme=theme).order_by("-id").first()
    return status


def status_lines(status: LoopStatus) -> list[str]:
    """``runloop status`` as lines; also what the admin panel shows (presentation of
    ``loop_status``, kept next to it so the admin needs no management command)."""
    state = status.state
    lines = [f"state: {status.headline}"]
    if state.reason:
        lines.append(f"reason: {state.reason}")
    if status.backing_off:
        lines.append(
            f"backing off until {timezone.localtime(state.backoff_until):%Y-%m-%d %H:%M:%S} "
            f"after {state.backoff_failures} failure(s)"
        )
    lines.append(f"theme: {status.theme.name if status.theme else '(none: run newtheme)'}")
    if state.current_task_id or state.current_role:
        lines.append(
            f"current: task {state.current_task_id or '-'} as {state.current_role or '-'} "
            f"on {state.current_worker or '-'}"
        )
    lines.append(
        f"iterations: {state.iterations_total} total, {status.iterations_last_hour} in the "
        f"last hour ({status.failures_last_hour} failed)"
    )
    queue = ", ".join(f"{k} {v}" for k, v in sorted(status.queue.items())) or "empty"
    lines.append(f"queue: {queue}")
    lines.append(f"ideas: {status.ideas}")
    if status.token_budget is not None:
        granted = f" + {status.tokens_granted:,} granted" if status.tokens_granted else ""
        lines.append(f"tokens today: {status.tokens_today:,} of {status.token_budget:,}{granted}")
    if state.last_error:
        when = timezone.localtime(state.last_error_at) if state.last_error_at else "-"
        lines.append(f"last error: [{state.last_error_class}] {state.last_error} ({when})")
    if state.stalled_since:
        lines.append(f"stalled since {timezone.localtime(state.stalled_since):%Y-%m-%d %H:%M}")
    schedule = (
        f"scheduled, next tick {timezone.localtime(status.schedule_next_run):%H:%M:%S}"
        if status.scheduled and status.schedule_next_run
        else ("scheduled" if status.scheduled else "not scheduled (runloop start)")
    )
    lines.append(f"schedule: {schedule}")
    return lines


def plan_current(*, goal_id: int) -> PlanRevision | None:
    """The plan a goal runs on: its newest approved revision (None before any approval).

    A revision waiting for a decision (``approved_at`` empty) is not current: the goal
    keeps running on the last approved one until a person says yes.
    """
    return (
        PlanRevision.objects.filter(goal_id=goal_id, approved_at__isnull=False)
        .order_by("-number")
        .first()
    )
