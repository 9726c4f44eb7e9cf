"""The work queue (Task), the loop log (Iteration), the loop's own state (LoopState),
and the goals: Goal, its PlanRevisions and the MetricSnapshots it is measured by.

Only ``goals.services`` writes these rows. Status machines are explicit: each model
lists its allowed transitions (``TRANSITIONS``), each transition has one guarded,
race-safe service that checks the table, and a test checks the table against them.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from goals.vocabulary import CURRENCY_EXPONENTS, FieldSource, Metric
from ideas.models import Mode, Theme

__all__ = [
    "PLAN",
    "FieldSource",
    "Goal",
    "Iteration",
    "LoopSlot",
    "LoopState",
    "Metric",
    "MetricSnapshot",
    "Mode",
    "PlanRevision",
    "Role",
    "Task",
    "TaskKind",
    "TokenGrant",
    "WebhookDelivery",
]


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


# --- Goals ------------------------------------------------------------------------------


class Goal(models.Model):
    """A goal as a person stated it, what was understood, and where it stands.

    ``target_amount`` is in ``metric``'s unit: minor units of ``currency`` for revenue
    (JPY has none: 200万 is 2000000), people for customers and trials. A growth goal keeps
    its percent and baseline window and, once the baseline is read, the absolute target.
    ``fields_from`` says how each understood field was obtained (``FieldSource``); any
    field from the model or a default is shown back before the goal runs.
    """

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        PLANNED = "planned", "Planned"
        AWAITING_APPROVAL = "awaiting_approval", "Awaiting approval"
        ACTIVE = "active", "Active"
        ACHIEVED = "achieved", "Achieved"
        MISSED = "missed", "Missed"
        CANCELLED = "cancelled", "Cancelled"

    TRANSITIONS: dict[str, tuple[str, ...]] = {
        Status.DRAFT: (Status.PLANNED, Status.CANCELLED),
        # A plan within policy starts at once; one over a policy line asks first.
        Status.PLANNED: (Status.AWAITING_APPROVAL, Status.ACTIVE, Status.CANCELLED),
        # A rejected plan goes back to be re-planned, not silently dropped.
        Status.AWAITING_APPROVAL: (Status.ACTIVE, Status.PLANNED, Status.CANCELLED),
        # Adjustments that need a person are decisions on a revision; the goal stays active.
        Status.ACTIVE: (Status.ACHIEVED, Status.MISSED, Status.CANCELLED),
        Status.ACHIEVED: (),
        Status.MISSED: (),
        Status.CANCELLED: (),
    }
    OPEN_STATUSES = (Status.DRAFT, Status.PLANNED, Status.AWAITING_APPROVAL, Status.ACTIVE)

    #: What ``fields_from`` may name.
    FIELDS = ("metric", "target_amount", "currency", "growth_pct", "baseline", "period")

    text = models.TextField(help_text="The goal as typed.")
    metric = models.CharField(max_length=16, choices=Metric.choices)
    target_amount = models.BigIntegerField(
        help_text="In the currency's minor unit for revenue (JPY has none); a count otherwise."
    )
    currency = models.CharField(max_length=3, help_text="ISO 4217 code, such as JPY.")
    growth_pct = models.DecimalField(max_digits=7, decimal_places=2, null=True, blank=True)
    baseline_start = models.DateField(null=True, blank=True)
    baseline_end = models.DateField(null=True, blank=True)
    baseline_amount = models.BigIntegerField(null=True, blank=True)
    #: Both ends included: "1週間" from today is today..today+6.
    period_start = models.DateField()
    period_end = models.DateField()
    status = models.CharField(max_length=24, choices=Status.choices, default=Status.DRAFT)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Empty when it came from a webhook or the command line without a user.",
    )
    fields_from = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(target_amount__gt=0), name="goals_goal_target_positive"
            ),
            models.CheckConstraint(
                condition=Q(period_end__gte=models.F("period_start")),
                name="goals_goal_period_ordered",
            ),
            models.CheckConstraint(
                condition=~Q(metric="revenue_growth") | Q(growth_pct__isnull=False),
                name="goals_goal_growth_has_pct",
            ),
            models.CheckConstraint(
                condition=Q(baseline_start__isnull=True, baseline_end__isnull=True)
                | Q(
                    baseline_start__isnull=False,
                    baseline_end__isnull=False,
                    baseline_end__gte=models.F("baseline_start"),
                ),
                name="goals_goal_baseline_window",
            ),
        ]
        indexes = [models.Index(fields=["status", "period_end"], name="goals_goal_status")]

    def __str__(self) -> str:
        return f"#{self.pk} {self.text[:60]} ({self.status})"

    @classmethod
    def transition_allowed(cls, current: str, new: str) -> bool:
        """Whether the table lets a goal go from ``current`` to ``new``."""
        return new in cls.TRANSITIONS.get(current, ())

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.currency not in CURRENCY_EXPONENTS:
            known = ", ".join(sorted(CURRENCY_EXPONENTS))
            errors["currency"] = f"Unknown currency {self.currency!r}: use one of {known}."
        if not isinstance(self.fields_from, dict):
            errors["fields_from"] = "Must map a field name to how it was obtained."
        else:
            bad = sorted(
                # str(): a TextChoices member's repr names its class, not its value.
                f"{name}={(str(how) if isinstance(how, str) else how)!r}"
                for name, how in self.fields_from.items()
                if name not in self.FIELDS or how not in FieldSource.values
            )
            if bad:
                errors["fields_from"] = (
                    f"Not a field or not a source: {', '.join(bad)} (fields: "
                    f"{', '.join(self.FIELDS)}; sources: {', '.join(FieldSource.values)})."
                )
        if errors:
            raise ValidationError(errors)

    @property
    def needs_confirmation(self) -> bool:
        """True when any field came from the model or a default: echo it back first."""
        return any(
            how in (FieldSource.MODEL, FieldSource.DEFAULT) for how in self.fields_from.values()
        )


class PlanRevision(models.Model):
    """One numbered plan of a goal: its figures, why, and who approved it.

    ``document`` is the plan as the planner produced it (``Decomposition.to_json()`` plus
    the chosen workflows); numbers are never edited in place: an adjustment or re-plan is
    a new revision. ``approved_at`` without ``approved_by`` means the policy let the
    system start it within its mandate.
    """

    class Reason(models.TextChoices):
        INITIAL = "initial", "First plan"
        ADJUSTMENT = "adjustment", "Volume adjustment"
        REPLAN = "replan", "Re-plan"

    class Author(models.TextChoices):
        MODEL = "model", "The model chose the workflows"
        FALLBACK = "fallback", "Deterministic fallback"
        PERSON = "person", "A person"

    goal = models.ForeignKey(Goal, on_delete=models.CASCADE, related_name="revisions")
    number = models.PositiveIntegerField(help_text="1 for the first plan, then 2, 3, ...")
    reason = models.CharField(max_length=16, choices=Reason.choices, default=Reason.INITIAL)
    author = models.CharField(max_length=16, choices=Author.choices, default=Author.FALLBACK)
    document = models.JSONField(default=dict)
    rationale = models.TextField(blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    decision_id = models.BigIntegerField(
        null=True, blank=True, help_text="The decision that asked a person, when one did."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["goal", "number"]
        constraints = [
            models.UniqueConstraint(fields=["goal", "number"], name="goals_planrevision_number"),
            models.CheckConstraint(condition=Q(number__gte=1), name="goals_planrevision_from_one"),
            models.CheckConstraint(
                condition=Q(approved_by__isnull=True) | Q(approved_at__isnull=False),
                name="goals_planrevision_approver_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"goal #{self.goal_id} plan r{self.number}"


class MetricSnapshot(models.Model):
    """One reading of one metric on one day from one source.

    Idempotent per (source, metric, date): a source read twice, or a webhook delivered
    again, updates its day's row instead of counting twice. ``value`` is in minor units
    of ``currency`` for revenue and a count otherwise.
    """

    class Source(models.TextChoices):
        WHOP = "whop", "Whop API"
        WHOP_WEBHOOK = "whop_webhook", "Whop webhooks"
        SHEETS = "sheets", "Google Sheets"
        WORKFLOW_RUNS = "workflow_runs", "Workflow run outputs"
        MANUAL = "manual", "Entered by a person"

    class Measure(models.TextChoices):
        """What a source reads: growth is derived from revenue, never read."""

        REVENUE = Metric.REVENUE.value, "Revenue"
        CUSTOMERS = Metric.CUSTOMERS.value, "Paying customers"
        TRIALS = Metric.TRIALS.value, "Trials"
        SENDS = "sends", "Sends"

    source = models.CharField(max_length=16, choices=Source.choices)
    metric = models.CharField(max_length=16, choices=Measure.choices)
    date = models.DateField()
    value = models.BigIntegerField()
    currency = models.CharField(max_length=3, blank=True, help_text="For revenue only.")
    detail = models.JSONField(default=dict, blank=True, help_text="What the source returned.")
    recorded_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-date", "metric"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "metric", "date"], name="goals_metricsnapshot_once_per_day"
            ),
            models.CheckConstraint(
                condition=(Q(metric="revenue") & ~Q(currency=""))
                | (~Q(metric="revenue") & Q(currency="")),
                name="goals_metricsnapshot_currency_for_revenue",
            ),
        ]
        indexes = [models.Index(fields=["metric", "date"], name="goals_snapshot_metric_date")]

    def __str__(self) -> str:
        return f"{self.metric} {self.date} = {self.value} ({self.source})"


class WebhookDelivery(models.Model):
    """A webhook delivery already handled, by its ``webhook-id``.

    Senders retry a delivery with the same id until they see a 2xx; storing the id in
    the transaction that applied the event makes a replay a no-op instead of a double
    count.
    """

    id = models.CharField(primary_key=True, max_length=255)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received_at"]
        verbose_name_plural = "webhook deliveries"

    def __str__(self) -> str:
        return self.id


class GoalOrigin(models.Model):
    """One chat message delivered to the goal webhook, and the first answer it got.

    Chat tools deliver at least once (Slack and Telegram retry a slow or failed
    delivery), so the webhook is idempotent per (``source``, ``message_id``): a replay
    returns ``answer`` as first given and creates nothing. The row is kept even when the
    answer was questions (no goal saved), so a replay neither asks the model again nor
    answers differently. ``goal`` is the goal the message created, when it created one.
    """

    source = models.CharField(max_length=32, help_text="The chat tool: slack, telegram, ...")
    message_id = models.CharField(max_length=200, help_text="The tool's id of the message.")
    goal = models.ForeignKey(
        Goal, null=True, blank=True, on_delete=models.SET_NULL, related_name="origins"
    )
    status_code = models.PositiveSmallIntegerField(help_text="The HTTP status first answered.")
    answer = models.JSONField(default=dict, help_text="The body first answered.")
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Whose API token delivered it.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["source", "message_id"], name="goals_goalorigin_once_per_message"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.source}:{self.message_id[:40]} → goal #{self.goal_id}"
