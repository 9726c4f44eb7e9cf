"""The idea studio's loop: the work queue (Task), the loop log (Iteration), the loop's
own state (LoopState), daily token grants and the concurrency slots."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from ideas.models import Mode, Theme


class TaskKind(models.TextChoices):
    GENERATE = "generate", "Generate"
    REFINE = "refine", "Refine"
    COMPARE = "compare", "Compare"
    CRITIQUE = "critique", "Critique"
    EDIT = "edit", "Edit"
    SNAPSHOT = "snapshot", "Snapshot"
    META_REVIEW = "meta_review", "Meta review"
    SHAKE_UP = "shake_up", "Shake-up"


#: The ``task_kind`` of an iteration with no task: the planner's turn on an empty queue.
PLAN = "plan"


class Role(models.TextChoices):
    PLANNER = "planner", "Planner"
    IDEATOR = "ideator", "Ideator"
    CRITIC = "critic", "Critic"
    EDITOR = "editor", "Editor"
    #: Work done without the model (a snapshot).
    SYSTEM = "system", "System"


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
        READY = "ready", "Ready"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        BLOCKED = "blocked", "Blocked (needs a person)"
        FAILED = "failed", "Failed"
        DROPPED = "dropped", "Dropped by a person"

    TRANSITIONS: dict[str, tuple[str, ...]] = {
        Status.READY: (Status.RUNNING,),
        Status.RUNNING: (Status.DONE, Status.READY, Status.BLOCKED, Status.FAILED),
        Status.BLOCKED: (Status.READY, Status.DROPPED),
        Status.FAILED: (Status.READY,),
        Status.DONE: (),
        Status.DROPPED: (),
    }
    OPEN_STATUSES = (Status.READY, Status.RUNNING)

    theme = models.ForeignKey("ideas.Theme", on_delete=models.CASCADE, related_name="tasks")
    kind = models.CharField(max_length=16, choices=TaskKind.choices)
    priority = models.IntegerField(default=50, help_text="Higher runs first (1–100 by convention).")
    ideas = models.ManyToManyField("ideas.Idea", blank=True, related_name="tasks")
    brief = models.TextField(blank=True, help_text="What the worker should achieve.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.READY)
    attempts = models.PositiveIntegerField(default=0)
    max_attempts = models.PositiveIntegerField(default=3)
    #: Times the task's worker died under it (its lease lapsed): not attempts, since the
    #: task did not fail, but capped too (``GOALS_MAX_LEASE_LOSSES``) so a task that
    #: kills its worker every time (out of memory) cannot take the loop down forever.
    lease_losses = models.PositiveIntegerField(default=0)
    run_after = models.DateTimeField(
        null=True, blank=True, help_text="Not claimed before this time (retry delay)."
    )
    lease_owner = models.CharField(max_length=120, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    #: Open tasks with the same key are the same work: queuing one again is a no-op.
    dedupe_key = models.CharField(max_length=120, blank=True)
    last_error = models.TextField(blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    created_by_iteration = models.ForeignKey(
        "goals.Iteration",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="created_tasks",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
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
            raise ValidationError({"attempts": "More attempts than allowed."})
        if self.status == self.Status.RUNNING and not self.lease_owner:
            raise ValidationError({"lease_owner": "A running task needs a lease holder."})


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
        OK = "ok", "OK"
        REPAIRED = "repaired", "OK after a repair call"
        FAILED = "failed", "Failed"
        LEASE_LOST = "lease_lost", "Discarded: lease lost"

    theme = models.ForeignKey("ideas.Theme", on_delete=models.CASCADE, related_name="iterations")
    task = models.ForeignKey(
        Task, null=True, blank=True, on_delete=models.SET_NULL, related_name="iterations"
    )
    task_kind = models.CharField(max_length=16, blank=True, help_text="'plan' without a task.")
    number = models.PositiveIntegerField(help_text="Position in the theme's loop.")
    worker = models.CharField(max_length=120, blank=True)
    role = models.CharField(max_length=16, choices=Role.choices)
    mode = models.CharField(max_length=16, choices=Mode.choices)
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    cached_tokens = models.PositiveIntegerField(null=True, blank=True)
    prefix_shared_tokens = models.PositiveIntegerField(default=0)
    model_calls = models.PositiveSmallIntegerField(
        default=0, help_text="HTTP calls to the model server, repair call and retries included."
    )
    calls = models.JSONField(
        default=list,
        blank=True,
        help_text="Each model call: purpose (main, repair), tokens, attempts, error class.",
    )
    normalisations = models.JSONField(
        default=list,
        blank=True,
        help_text="What was normalised in the answer instead of a repair call.",
    )
    analysis = models.TextField(blank=True)
    final = models.TextField(blank=True)
    tool_calls = models.JSONField(default=list, blank=True)
    parsed = models.JSONField(null=True, blank=True)
    result = models.JSONField(default=dict, blank=True, help_text="What was persisted.")
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    error_class = models.CharField(max_length=40, blank=True)
    error_detail = models.TextField(blank=True)
    similarity = models.FloatField(null=True, blank=True, help_text="Stagnation measure.")
    duration_ms = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()

    class Meta:
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
        RUNNING = "running", "Running"
        PAUSED = "paused", "Paused"
        STOPPED = "stopped", "Stopped"
        BACKING_OFF = "backing_off", "Backing off (model server down)"

    TRANSITIONS: dict[str, tuple[str, ...]] = {
        State.STOPPED: (State.RUNNING,),
        State.RUNNING: (State.PAUSED, State.STOPPED, State.BACKING_OFF),
        State.PAUSED: (State.RUNNING, State.STOPPED),
        State.BACKING_OFF: (State.RUNNING, State.PAUSED, State.STOPPED),
    }
    SINGLETON_ID = 1

    state = models.CharField(max_length=16, choices=State.choices, default=State.STOPPED)
    reason = models.TextField(blank=True, help_text="Why it is paused, stopped or backing off.")
    state_changed_at = models.DateTimeField(null=True, blank=True)
    current_task = models.ForeignKey(
        Task, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    current_role = models.CharField(max_length=16, blank=True)
    current_worker = models.CharField(max_length=120, blank=True)
    current_started_at = models.DateTimeField(null=True, blank=True)
    last_error_class = models.CharField(max_length=40, blank=True)
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    backoff_failures = models.PositiveIntegerField(default=0)
    backoff_until = models.DateTimeField(null=True, blank=True)
    #: Duty cycle: after an iteration the loop rests in proportion to the time it worked.
    rest_until = models.DateTimeField(null=True, blank=True)
    last_iteration_at = models.DateTimeField(null=True, blank=True)
    iterations_total = models.PositiveIntegerField(default=0)
    iterations_failed = models.PositiveIntegerField(default=0)
    tokens_total = models.PositiveBigIntegerField(default=0)
    stalled_since = models.DateTimeField(
        null=True, blank=True, help_text="Set when stagnation queued a shake-up."
    )
    #: Strategy set by a meta review (small changes) or an approved decision (large ones);
    #: it belongs to ``strategy_theme`` and is ignored for any other theme.
    strategy_theme = models.ForeignKey(
        "ideas.Theme", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    explore_ratio = models.FloatField(null=True, blank=True)
    strategy_focus = models.TextField(blank=True)
    #: The prompt token ids of the last call per role, for prefix-sharing figures.
    last_prompt_ids = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "loop"
        verbose_name_plural = "loop"
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

    theme = models.ForeignKey("ideas.Theme", on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    tokens = models.PositiveBigIntegerField()
    decision_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
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


class LoopSlot(models.Model):
    """One of the ``BIZAGENT_LOOP_CONCURRENCY`` places an iteration may run in.

    A tick leases a free or lapsed slot by compare-and-set (``owner`` until
    ``expires_at``) and its heartbeat renews the lease while the tick lives; a tick whose
    process died leaves a lease that lapses within ``GOALS_SLOT_LEASE_SECONDS``. However
    many clusters tick, at most as many iterations run at once as there are slots.
    """

    number = models.PositiveSmallIntegerField(primary_key=True)
    owner = models.CharField(max_length=120, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    #: The duty cycle's rest after this slot's last iteration: no iteration starts in it
    #: before then. Kept per slot, so K slots each work their share of the wall time.
    rest_until = models.DateTimeField(null=True, blank=True)
    #: Tokens reserved by the iteration admitted in this slot, until it is recorded: the
    #: budget check counts what is in flight, so K slots cannot all start on the last
    #: tokens of the day.
    reserved_tokens = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(owner="", expires_at__isnull=True)
                | (~Q(owner="") & Q(expires_at__isnull=False)),
                name="goals_loopslot_owner_has_expiry",
            ),
        ]

    def __str__(self) -> str:
        return f"slot {self.number}: {self.owner or 'free'}"
