"""Workflows: the definition (Workflow, Step, Edge) apart from run state (Run, StepRun).

As in Wagtail's moderation workflows, what a person builds is kept apart from what a
run does with it: a published Workflow is immutable (editing it makes a new draft
version) and every Run pins the version it started on, so a run never sees its graph
change under it.

Only ``workflows.services`` writes these rows. Status machines are explicit: each model
lists its allowed transitions (``TRANSITIONS``); each transition is one guarded,
race-safe service that checks the table and writes its audit row in the same
transaction.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

__all__ = [
    "Edge",
    "OnError",
    "Run",
    "RunTrigger",
    "Step",
    "StepRun",
    "Workflow",
]


class Workflow(models.Model):
    """One version of a workflow definition.

    Versions of the same workflow share a ``key``. A draft is edited in place; a
    published version never changes (``workflow_update`` on it makes the next draft
    version), and at most one version per key is published at a time.
    """

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        PENDING_APPROVAL = "pending_approval", "Waiting for approval"
        PUBLISHED = "published", "Published"
        RETIRED = "retired", "Retired"

    TRANSITIONS: dict[str, tuple[str, ...]] = {
        Status.DRAFT: (Status.PENDING_APPROVAL, Status.PUBLISHED, Status.RETIRED),
        Status.PENDING_APPROVAL: (Status.PUBLISHED, Status.DRAFT),
        Status.PUBLISHED: (Status.RETIRED,),
        Status.RETIRED: (),
    }

    key = models.SlugField(max_length=80, help_text="Shared by every version of the same workflow.")
    version = models.PositiveIntegerField(default=1)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    input_schema = models.JSONField(
        default=dict, blank=True, help_text="JSON Schema a run's input must satisfy."
    )
    output = models.JSONField(
        default=dict,
        blank=True,
        help_text="What a run returns: a JSON of templates such as {{ steps.reply.output }}.",
    )
    is_system = models.BooleanField(
        default=False, help_text="System workflows may call the internal API."
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.DRAFT)
    timeout_seconds = models.PositiveIntegerField(
        default=3600, help_text="A run still going after this long fails with a reason."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        permissions = [("execute_workflow", "Can run workflows")]
        constraints = [
            models.UniqueConstraint(fields=["key", "version"], name="workflows_key_version"),
            models.UniqueConstraint(
                fields=["key"],
                condition=Q(status="published"),
                name="workflows_one_published_per_key",
            ),
        ]
        ordering = ["key", "-version"]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"


class OnError(models.TextChoices):
    """What a step's failure (after its retries) does to the run."""

    FAIL = "fail", "Fail the run"
    CONTINUE = "continue", "Continue (the step's output is null)"
    ERROR_BRANCH = "error_branch", "Follow the step's error port"
    DEFAULT_OUTPUT = "default_output", "Continue with the step's default output"


class Step(models.Model):
    """One step of a workflow version: a block with its configuration.

    ``name`` is unique within the workflow: it is what templates reference
    (``steps.<name>.output``) and the tool name an agent sees.
    """

    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="steps")
    name = models.CharField(max_length=64)
    block = models.CharField(max_length=64, help_text="The block's slug.")
    description = models.TextField(
        blank=True, help_text="What the step does; an agent reads it when the step is a tool."
    )
    config = models.JSONField(default=dict, blank=True)
    input_schema = models.JSONField(
        null=True,
        blank=True,
        help_text="Arguments the step takes when an agent calls it (default: the block's).",
    )
    #: ``{"attempts": 3, "backoff": "exponential", "delay_seconds": 1.0, "on": ["timeout"]}``
    retry = models.JSONField(default=dict, blank=True)
    on_error = models.CharField(max_length=20, choices=OnError.choices, default=OnError.FAIL)
    default_output = models.JSONField(null=True, blank=True)
    timeout_seconds = models.PositiveIntegerField(default=300)
    tool_only = models.BooleanField(
        default=False, help_text="Reachable only when an agent calls it (executeStep)."
    )
    idempotent = models.BooleanField(
        default=False,
        help_text="Running it twice does no harm: a step with side effects retries only then.",
    )
    position = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workflow", "name"], name="workflows_step_name"),
        ]
        ordering = ["workflow", "position", "id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.block})"


class Edge(models.Model):
    """From a step's port to another step, by id so renaming a step breaks nothing.

    Ports: ``out``, ``error``, ``true``/``false`` (condition), ``case:<key>`` (switch).
    """

    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="edges")
    source = models.ForeignKey(Step, on_delete=models.CASCADE, related_name="out_edges")
    port = models.CharField(max_length=80, default="out")
    target = models.ForeignKey(Step, on_delete=models.CASCADE, related_name="in_edges")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["source", "port", "target"], name="workflows_edge_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.source_id}:{self.port} → {self.target_id}"


class RunTrigger(models.TextChoices):
    API = "api", "API"
    ADMIN = "admin", "Admin"
    COMMAND = "command", "Command"
    SCHEDULE = "schedule", "Schedule"
    GOAL = "goal", "Goal"
    SUBFLOW = "subflow", "Subflow"
    COPILOT = "copilot", "Copilot"


class Run(models.Model):
    """One execution of one workflow version."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        WAITING = "waiting", "Waiting"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        PARTIALLY_SUCCEEDED = "partially_succeeded", "Partially succeeded"
        CANCELLED = "cancelled", "Cancelled"

    TRANSITIONS: dict[str, tuple[str, ...]] = {
        Status.QUEUED: (Status.RUNNING, Status.CANCELLED, Status.FAILED),
        Status.RUNNING: (
            Status.WAITING,
            Status.SUCCEEDED,
            Status.FAILED,
            Status.PARTIALLY_SUCCEEDED,
            Status.CANCELLED,
        ),
        Status.WAITING: (Status.RUNNING, Status.FAILED, Status.CANCELLED),
        Status.SUCCEEDED: (),
        # FAILED → RUNNING: a person retries the failed step (``step_run_retry``).
        Status.FAILED: (Status.RUNNING,),
        Status.PARTIALLY_SUCCEEDED: (),
        Status.CANCELLED: (),
    }
    OPEN_STATUSES = (Status.QUEUED, Status.RUNNING, Status.WAITING)

    workflow = models.ForeignKey(Workflow, on_delete=models.PROTECT, related_name="runs")
    status = models.CharField(max_length=24, choices=Status.choices, default=Status.QUEUED)
    trigger = models.CharField(max_length=16, choices=RunTrigger.choices, default=RunTrigger.API)
    triggered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    #: What the run is about, e.g. ``goals.goal:12`` (free text, for people and reports).
    subject = models.CharField(max_length=120, blank=True)
    is_test = models.BooleanField(default=False, help_text="A test run of a draft version.")
    input = models.JSONField(default=dict, blank=True)
    output = models.JSONField(null=True, blank=True)
    #: Variables set by set-variables steps (``{{ vars.<name> }}``).
    vars = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    #: The subflow or agent-tool step that started this run, if any.
    parent_step_run = models.ForeignKey(
        "workflows.StepRun",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="child_runs",
    )
    depth = models.PositiveSmallIntegerField(default=0)
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    cost = models.DecimalField(max_digits=14, decimal_places=4, default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    deadline_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["status", "created_at"], name="workflows_run_status"),
            models.Index(fields=["workflow", "-created_at"], name="workflows_run_by_workflow"),
        ]

    def __str__(self) -> str:
        return f"run {self.pk} of {self.workflow_id} ({self.status})"


class StepRun(models.Model):
    """One step's execution within a run (or one tool call of an agent step).

    Claimed with a lease (``lease_owner`` until ``lease_expires_at``): the block runs
    with no transaction open, and the result is recorded under the lease, so a worker
    that was killed leaves a step that another worker takes over once the lease lapses,
    and a step already recorded is never executed again.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        HANDLED_ERROR = "handled_error", "Failed (handled)"
        SKIPPED = "skipped", "Skipped"
        WAITING = "waiting", "Waiting"
        CANCELLED = "cancelled", "Cancelled"

    TRANSITIONS: dict[str, tuple[str, ...]] = {
        Status.PENDING: (Status.RUNNING, Status.SKIPPED, Status.CANCELLED),
        # RUNNING → RUNNING: a lapsed lease re-claimed (at-least-once delivery), and
        # RUNNING → PENDING: a retry waiting for its backoff.
        Status.RUNNING: (
            Status.RUNNING,
            Status.PENDING,
            Status.SUCCEEDED,
            Status.FAILED,
            Status.HANDLED_ERROR,
            Status.WAITING,
            Status.CANCELLED,
        ),
        # WAITING → PENDING: a person approved the step (governance); it is queued again.
        Status.WAITING: (
            Status.PENDING,
            Status.RUNNING,
            Status.SUCCEEDED,
            Status.FAILED,
            Status.CANCELLED,
        ),
        Status.SUCCEEDED: (),
        # FAILED → PENDING: a person retries the failed step of a failed run.
        Status.FAILED: (Status.PENDING,),
        Status.HANDLED_ERROR: (),
        Status.SKIPPED: (),
        Status.CANCELLED: (),
    }
    DONE_STATUSES = (
        Status.SUCCEEDED,
        Status.FAILED,
        Status.HANDLED_ERROR,
        Status.SKIPPED,
        Status.CANCELLED,
    )

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="step_runs")
    step = models.ForeignKey(Step, on_delete=models.PROTECT, related_name="step_runs")
    #: The agent step whose tool call this is (``executeStep``); null for graph steps.
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="tool_calls"
    )
    #: Digest of the tool name and canonical arguments: the same call twice is one row.
    call_key = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    input = models.JSONField(default=dict, blank=True)
    output = models.JSONField(null=True, blank=True)
    #: The port the step left by (``out``, ``true``, ``case:…``, ``error``).
    port = models.CharField(max_length=80, blank=True)
    error_class = models.CharField(max_length=64, blank=True)
    error_message = models.TextField(blank=True)
    attempt = models.PositiveIntegerField(default=0)
    run_after = models.DateTimeField(null=True, blank=True, help_text="Retry backoff.")
    lease_owner = models.CharField(max_length=120, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    idempotency_key = models.CharField(max_length=80, unique=True)
    #: What is left of the agent budgets (iterations, tool calls, tokens, depth):
    #: kept here so they survive retries and shrink through nesting.
    budget = models.JSONField(default=dict, blank=True)
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    cost = models.DecimalField(max_digits=14, decimal_places=4, default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["run", "step"],
                condition=Q(parent__isnull=True),
                name="workflows_steprun_once_per_run",
            ),
            models.UniqueConstraint(
                fields=["parent", "call_key"],
                condition=Q(parent__isnull=False),
                name="workflows_steprun_one_per_call",
            ),
            models.CheckConstraint(
                condition=Q(status="running", lease_expires_at__isnull=False)
                | ~Q(status="running"),
                name="workflows_steprun_running_has_lease",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "run_after"], name="workflows_steprun_ready"),
        ]

    def __str__(self) -> str:
        return f"step run {self.pk} ({self.status})"
