"""The idea studio's loop: the work queue (Task), the loop log (Iteration), the loop's
own state (LoopState), daily token grants and the concurrency slots."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from ideas.models import Mode, Theme


class TaskKind(models.TextChoices):
    GENERATE = "generate", _("Generate")
    REFINE = "refine", _("Refine")
    COMPARE = "compare", _("Compare")
    CRITIQUE = "critique", _("Critique")
    EDIT = "edit", _("Edit")
    SNAPSHOT = "snapshot", _("Snapshot")
    META_REVIEW = "meta_review", _("Meta review")
    SHAKE_UP = "shake_up", _("Shake-up")


#: The ``task_kind`` of an iteration with no task: the planner's turn on an empty queue.
PLAN = "plan"


class Role(models.TextChoices):
    PLANNER = "planner", _("Planner")
    IDEATOR = "ideator", _("Ideator")
    CRITIC = "critic", _("Critic")
    EDITOR = "editor", _("Editor")
    #: Work done without the model (a snapshot).
    SYSTEM = "system", _("System")


class Task(models.Model):
    """One unit of work in the queue.

    A worker claims a ready task by taking a lease (``lease_owner`` until
    ``lease_expires_at``), short and renewed by the worker's heartbeat while it lives. A
    worker that dies leaves its lease to lapse, and ``task_leases_expire`` puts the task
    back in the queue without spending an attempt (a lost lease is not the task's
    failure: ``lease_losses`` counts those, with a cap of its own); the completing write
    checks the lease, so a worker that wakes up late cannot complete a task someone else
    took. A blocked task waits for a person: retried, or dropped.
    """

    class Status(models.TextChoices):
        READY = "ready", _("Ready")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        BLOCKED = "blocked", _("Blocked (needs a person)")
        FAILED = "failed", _("Failed")
        DROPPED = "dropped", _("Dropped by a person")

    TRANSITIONS: dict[str, tuple[str, ...]] = {
        Status.READY: (Status.RUNNING,),
        Status.RUNNING: (Status.DONE, Status.READY, Status.BLOCKED, Status.FAILED),
        Status.BLOCKED: (Status.READY, Status.DROPPED),
        Status.FAILED: (Status.READY,),
        Status.DONE: (),
        Status.DROPPED: (),
    }
    OPEN_STATUSES = (Status.READY, Status.RUNNING)

    theme = models.ForeignKey(
        "ideas.Theme", on_delete=models.CASCADE, related_name="tasks", verbose_name=_("theme")
    )
    kind = models.CharField(max_length=16, choices=TaskKind.choices, verbose_name=_("kind"))
    priority = models.IntegerField(
        default=50,
        help_text=_("Higher runs first (1–100 by convention)."),
        verbose_name=_("priority"),
    )
    ideas = models.ManyToManyField(
        "ideas.Idea", blank=True, related_name="tasks", verbose_name=_("ideas")
    )
    brief = models.TextField(
        blank=True, help_text=_("What the worker should achieve."), verbose_name=_("brief")
    )
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.READY, verbose_name=_("status")
    )
    attempts = models.PositiveIntegerField(default=0, verbose_name=_("attempts"))
    max_attempts = models.PositiveIntegerField(default=3, verbose_name=_("max attempts"))
    #: Times the task's worker died under it (its lease lapsed): not attempts, since the
    #: task did not fail, but capped too (``GOALS_MAX_LEASE_LOSSES``) so a task that
    #: kills its worker every time (out of memory) cannot take the loop down forever.
    lease_losses = models.PositiveIntegerField(default=0, verbose_name=_("lease losses"))
    run_after = models.DateTimeField(
        null=True,
        blank=True,
        help_text=_("Not claimed before this time (retry delay)."),
        verbose_name=_("run after"),
    )
    lease_owner = models.CharField(max_length=120, blank=True, verbose_name=_("lease owner"))
    lease_expires_at = models.DateTimeField(
        null=True, blank=True, verbose_name=_("lease expires at")
    )
    #: Open tasks with the same key are the same work: queuing one again is a no-op.
    dedupe_key = models.CharField(max_length=120, blank=True, verbose_name=_("dedupe key"))
    last_error = models.TextField(blank=True, verbose_name=_("last error"))
    metadata = models.JSONField(default=dict, blank=True, verbose_name=_("metadata"))
    created_by_iteration = models.ForeignKey(
        "goals.Iteration",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="created_tasks",
        verbose_name=_("created by iteration"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    last_run_at = models.DateTimeField(null=True, blank=True, verbose_name=_("last run at"))
    finished_at = models.DateTimeField(null=True, blank=True, verbose_name=_("finished at"))

    class Meta:
        verbose_name = _("task")
        verbose_name_plural = _("tasks")
        constraints = [
            models.UniqueConstraint(
                fields=["theme", "dedupe_key"],
                condition=Q(status__in=["ready", "running"]) & ~Q(dedupe_key=""),
                name="goals_task_one_open_per_key",
            ),
            models.CheckConstraint(
                condition=Q(status="running", lease_expires_at__isnull=False)
                | ~Q(status="running"),
                name="goals_task_running_has_lease",
            ),
        ]
        indexes = [
            models.Index(
                fields=["theme", "status", "-priority", "created_at"], name="goals_task_claim"
            ),
            models.Index(fields=["status", "lease_expires_at"], name="goals_task_lease"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.kind} ({self.status})"

    def clean(self) -> None:
        if self.attempts > self.max_attempts + 1:
            raise ValidationError({"attempts": _("More attempts than allowed.")})
        if self.status == self.Status.RUNNING and not self.lease_owner:
            raise ValidationError({"lease_owner": _("A running task needs a lease holder.")})


class Iteration(models.Model):
    """One step of the loop: what was asked, what came back, what it changed.

    ``prefix_shared_tokens`` is the length of the prompt prefix shared with the previous
    call of the same role: the part a prefix-caching server need not recompute.

    The token fields sum every call the iteration made, the repair call and failed calls
    included: what the server billed, which is what the daily budget counts. ``calls``
    breaks them down per call; ``normalisations`` lists what was fixed harmlessly in the
    answer (duplicates in a set) instead of a repair call.
    """

    class Outcome(models.TextChoices):
        OK = "ok", _("OK")
        REPAIRED = "repaired", _("OK after a repair call")
        FAILED = "failed", _("Failed")
        LEASE_LOST = "lease_lost", _("Discarded: lease lost")

    theme = models.ForeignKey(
        "ideas.Theme", on_delete=models.CASCADE, related_name="iterations", verbose_name=_("theme")
    )
    task = models.ForeignKey(
        Task,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="iterations",
        verbose_name=_("task"),
    )
    task_kind = models.CharField(
        max_length=16,
        blank=True,
        help_text=_("'plan' without a task."),
        verbose_name=_("task kind"),
    )
    number = models.PositiveIntegerField(
        help_text=_("Position in the theme's loop."), verbose_name=_("number")
    )
    worker = models.CharField(max_length=120, blank=True, verbose_name=_("worker"))
    role = models.CharField(max_length=16, choices=Role.choices, verbose_name=_("role"))
    mode = models.CharField(max_length=16, choices=Mode.choices, verbose_name=_("mode"))
    prompt_tokens = models.PositiveIntegerField(default=0, verbose_name=_("prompt tokens"))
    completion_tokens = models.PositiveIntegerField(default=0, verbose_name=_("completion tokens"))
    cached_tokens = models.PositiveIntegerField(
        null=True, blank=True, verbose_name=_("cached tokens")
    )
    prefix_shared_tokens = models.PositiveIntegerField(
        default=0, verbose_name=_("prefix shared tokens")
    )
    model_calls = models.PositiveSmallIntegerField(
        default=0,
        help_text=_("HTTP calls to the model server, repair call and retries included."),
        verbose_name=_("model calls"),
    )
    calls = models.JSONField(
        default=list,
        blank=True,
        help_text=_("Each model call: purpose (main, repair), tokens, attempts, error class."),
        verbose_name=_("calls"),
    )
    normalisations = models.JSONField(
        default=list,
        blank=True,
        help_text=_("What was normalised in the answer instead of a repair call."),
        verbose_name=_("normalisations"),
    )
    analysis = models.TextField(blank=True, verbose_name=_("analysis"))
    final = models.TextField(blank=True, verbose_name=_("final"))
    tool_calls = models.JSONField(default=list, blank=True, verbose_name=_("tool calls"))
    parsed = models.JSONField(null=True, blank=True, verbose_name=_("parsed"))
    result = models.JSONField(
        default=dict, blank=True, help_text=_("What was persisted."), verbose_name=_("result")
    )
    outcome = models.CharField(max_length=16, choices=Outcome.choices, verbose_name=_("outcome"))
    error_class = models.CharField(max_length=40, blank=True, verbose_name=_("error class"))
    error_detail = models.TextField(blank=True, verbose_name=_("error detail"))
    similarity = models.FloatField(
        null=True, blank=True, help_text=_("Stagnation measure."), verbose_name=_("similarity")
    )
    duration_ms = models.PositiveIntegerField(default=0, verbose_name=_("duration ms"))
    started_at = models.DateTimeField(verbose_name=_("started at"))
    finished_at = models.DateTimeField(verbose_name=_("finished at"))

    class Meta:
        verbose_name = _("iteration")
        verbose_name_plural = _("iterations")
        indexes = [
            models.Index(fields=["theme", "-started_at"], name="goals_iteration_recent"),
            models.Index(fields=["theme", "role", "-id"], name="goals_iteration_role"),
            models.Index(fields=["theme", "-number"], name="goals_iteration_number"),
        ]
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"#{self.number} {self.role}/{self.mode} {self.outcome}"

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class LoopState(models.Model):
    """The one row that says what the 24/7 loop is doing and why.

    ``stopped``: the scheduled loop does nothing (the default; ``runloop start`` starts
    it). ``paused``: a person or the system (a theme switch, the token budget) holds it.
    ``backing_off``: the model server failed; the loop retries after ``backoff_until``
    and returns to ``running`` on its first success.
    """

    class State(models.TextChoices):
        RUNNING = "running", _("Running")
        PAUSED = "paused", _("Paused")
        STOPPED = "stopped", _("Stopped")
        BACKING_OFF = "backing_off", _("Backing off (model server down)")

    TRANSITIONS: dict[str, tuple[str, ...]] = {
        State.STOPPED: (State.RUNNING,),
        State.RUNNING: (State.PAUSED, State.STOPPED, State.BACKING_OFF),
        State.PAUSED: (State.RUNNING, State.STOPPED),
        State.BACKING_OFF: (State.RUNNING, State.PAUSED, State.STOPPED),
    }
    SINGLETON_ID = 1

    state = models.CharField(
        max_length=16, choices=State.choices, default=State.STOPPED, verbose_name=_("state")
    )
    reason = models.TextField(
        blank=True,
        help_text=_("Why it is paused, stopped or backing off."),
        verbose_name=_("reason"),
    )
    state_changed_at = models.DateTimeField(
        null=True, blank=True, verbose_name=_("state changed at")
    )
    current_task = models.ForeignKey(
        Task,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        # No index: the table has one row, so a lookup by task reads that row anyway,
        # and the index was written twice per iteration ("working on", then done).
        db_index=False,
        verbose_name=_("current task"),
    )
    current_role = models.CharField(max_length=16, blank=True, verbose_name=_("current role"))
    current_worker = models.CharField(max_length=120, blank=True, verbose_name=_("current worker"))
    current_started_at = models.DateTimeField(
        null=True, blank=True, verbose_name=_("current started at")
    )
    last_error_class = models.CharField(
        max_length=40, blank=True, verbose_name=_("last error class")
    )
    last_error = models.TextField(blank=True, verbose_name=_("last error"))
    last_error_at = models.DateTimeField(null=True, blank=True, verbose_name=_("last error at"))
    backoff_failures = models.PositiveIntegerField(default=0, verbose_name=_("backoff failures"))
    backoff_until = models.DateTimeField(null=True, blank=True, verbose_name=_("backoff until"))
    #: Duty cycle: after an iteration the loop rests in proportion to the time it worked.
    rest_until = models.DateTimeField(null=True, blank=True, verbose_name=_("rest until"))
    last_iteration_at = models.DateTimeField(
        null=True, blank=True, verbose_name=_("last iteration at")
    )
    iterations_total = models.PositiveIntegerField(default=0, verbose_name=_("iterations total"))
    iterations_failed = models.PositiveIntegerField(default=0, verbose_name=_("iterations failed"))
    tokens_total = models.PositiveBigIntegerField(default=0, verbose_name=_("tokens total"))
    stalled_since = models.DateTimeField(
        null=True,
        blank=True,
        help_text=_("Set when stagnation queued a shake-up."),
        verbose_name=_("stalled since"),
    )
    #: Strategy set by a meta review (small changes) or an approved decision (large ones);
    #: it belongs to ``strategy_theme`` and is ignored for any other theme.
    strategy_theme = models.ForeignKey(
        "ideas.Theme",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("strategy theme"),
    )
    explore_ratio = models.FloatField(null=True, blank=True, verbose_name=_("explore ratio"))
    strategy_focus = models.TextField(blank=True, verbose_name=_("strategy focus"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("loop")
        verbose_name_plural = _("loop")
        constraints = [
            models.CheckConstraint(condition=Q(id=1), name="goals_loopstate_singleton"),
        ]

    def __str__(self) -> str:
        return f"loop: {self.get_state_display()}"

    def strategy_for(self, theme: Theme | None) -> tuple[float | None, str]:
        """(explore ratio override, focus) when they belong to ``theme``."""
        if self.strategy_theme_id != getattr(theme, "pk", None):
            return None, ""
        return self.explore_ratio, self.strategy_focus


class TokenGrant(models.Model):
    """Extra tokens a person approved for one theme on one day, past the daily budget."""

    theme = models.ForeignKey(
        "ideas.Theme", on_delete=models.CASCADE, related_name="+", verbose_name=_("theme")
    )
    day = models.DateField(verbose_name=_("day"))
    tokens = models.PositiveBigIntegerField(verbose_name=_("tokens"))
    decision_id = models.BigIntegerField(null=True, blank=True, verbose_name=_("decision ID"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("token grant")
        verbose_name_plural = _("token grants")
        constraints = [
            # One grant per approved decision: a re-run handler cannot grant twice.
            models.UniqueConstraint(
                fields=["decision_id"],
                condition=Q(decision_id__isnull=False),
                name="goals_tokengrant_one_per_decision",
            ),
        ]

    def __str__(self) -> str:
        return f"+{self.tokens} tokens on {self.day}"


class TokenDay(models.Model):
    """The tokens a theme's iterations spent on one day: what the daily budget reads.

    Kept by ``goals.services.record.iteration_new`` in the transaction that inserts each
    ``Iteration``, so it is the sum of the day's iterations' ``prompt_tokens`` and
    ``completion_tokens`` (the day of ``started_at`` in the project's time zone). Summing
    the rows instead read every iteration of the day on every iteration: at eight at
    once that is hundreds of thousands of rows by the evening.
    """

    theme = models.ForeignKey(
        "ideas.Theme", on_delete=models.CASCADE, related_name="+", verbose_name=_("theme")
    )
    day = models.DateField(verbose_name=_("day"))
    tokens = models.PositiveBigIntegerField(default=0, verbose_name=_("tokens"))

    class Meta:
        verbose_name = _("tokens of a day")
        verbose_name_plural = _("tokens of each day")
        constraints = [
            models.UniqueConstraint(fields=["theme", "day"], name="goals_tokenday_one_per_day"),
        ]

    def __str__(self) -> str:
        return f"{self.tokens} tokens on {self.day}"


class RolePrompt(models.Model):
    """The prompt token ids of a role's last call: what the next call's shared-prefix
    figure (``Iteration.prefix_shared_tokens``) is measured against.

    A row per role, read and written by that role's iterations alone. Kept on the loop's
    state row (as one JSON object for every role) it made that row ~56 kB: every update
    of a counter or of "working on" rewrote it, and every read of the loop's state
    parsed it.
    """

    role = models.CharField(
        primary_key=True, max_length=20, choices=Role.choices, verbose_name=_("role")
    )
    #: ``goals.stats.prompt_ids_pack``: base64 of little-endian 32-bit ids.
    ids = models.TextField(verbose_name=_("prompt token ids"))
    updated_at = models.DateTimeField(verbose_name=_("updated at"))
    #: Zero bytes that keep the row's size the same from write to write on SQLite
    #: (``goals.services.loop.role_prompt_padding``). SQLite then overwrites the row where
    #: it is and writes only the pages whose bytes changed: the ~90% of a prompt shared
    #: with the role's previous one is not written again (~16 -> ~3 pages a write).
    pad = models.BinaryField(default=b"", editable=False, verbose_name=_("padding"))

    class Meta:
        verbose_name = _("last prompt of a role")
        verbose_name_plural = _("last prompts of the roles")

    def __str__(self) -> str:
        return f"last {self.role} prompt"


class LoopSlot(models.Model):
    """One of the ``BIZAGENT_LOOP_CONCURRENCY`` places an iteration may run in.

    A tick leases a free or lapsed slot by compare-and-set (``owner`` until
    ``expires_at``) and its heartbeat renews the lease while the tick lives; a tick whose
    process died leaves a lease that lapses within ``GOALS_SLOT_LEASE_SECONDS``. However
    many clusters tick, at most as many iterations run at once as there are slots.
    """

    number = models.PositiveSmallIntegerField(primary_key=True, verbose_name=_("number"))
    owner = models.CharField(max_length=120, blank=True, verbose_name=_("owner"))
    expires_at = models.DateTimeField(null=True, blank=True, verbose_name=_("expires at"))
    claimed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("claimed at"))
    #: The duty cycle's rest after this slot's last iteration: no iteration starts in it
    #: before then. Kept per slot, so K slots each work their share of the wall time.
    rest_until = models.DateTimeField(null=True, blank=True, verbose_name=_("rest until"))
    #: Tokens reserved by the iteration admitted in this slot, until it is recorded: the
    #: budget check counts what is in flight, so K slots cannot all start on the last
    #: tokens of the day.
    reserved_tokens = models.PositiveIntegerField(default=0, verbose_name=_("reserved tokens"))

    class Meta:
        verbose_name = _("loop slot")
        verbose_name_plural = _("loop slots")
        constraints = [
            models.CheckConstraint(
                condition=Q(owner="", expires_at__isnull=True)
                | (~Q(owner="") & Q(expires_at__isnull=False)),
                name="goals_loopslot_owner_has_expiry",
            ),
        ]

    def __str__(self) -> str:
        return f"slot {self.number}: {self.owner or 'free'}"
