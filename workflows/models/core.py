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
from django.utils.translation import gettext_lazy as _

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
        DRAFT = "draft", _("Draft")
        PENDING_APPROVAL = "pending_approval", _("Waiting for approval")
        PUBLISHED = "published", _("Published")
        RETIRED = "retired", _("Retired")

    TRANSITIONS: dict[str, tuple[str, ...]] = {
        Status.DRAFT: (Status.PENDING_APPROVAL, Status.PUBLISHED, Status.RETIRED),
        Status.PENDING_APPROVAL: (Status.PUBLISHED, Status.DRAFT),
        Status.PUBLISHED: (Status.RETIRED,),
        Status.RETIRED: (),
    }

    key = models.SlugField(
        max_length=80,
        help_text=_("Shared by every version of the same workflow."),
        verbose_name=_("key"),
    )
    version = models.PositiveIntegerField(default=1, verbose_name=_("version"))
    name = models.CharField(max_length=200, verbose_name=_("name"))
    description = models.TextField(blank=True, verbose_name=_("description"))
    input_schema = models.JSONField(
        default=dict,
        blank=True,
        help_text=_("JSON Schema a run's input must satisfy."),
        verbose_name=_("input schema"),
    )
    output = models.JSONField(
        default=dict,
        blank=True,
        help_text=_("What a run returns: a JSON of templates such as {{ steps.reply.output }}."),
        verbose_name=_("output"),
    )
    is_system = models.BooleanField(
        default=False,
        help_text=_("System workflows may call the internal API."),
        verbose_name=_("system workflow"),
    )
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.DRAFT, verbose_name=_("status")
    )
    timeout_seconds = models.PositiveIntegerField(
        default=3600,
        help_text=_("A run still going after this long fails with a reason."),
        verbose_name=_("timeout (seconds)"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))
    published_at = models.DateTimeField(null=True, blank=True, verbose_name=_("published at"))

    class Meta:
        verbose_name = _("workflow")
        verbose_name_plural = _("workflows")
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

    FAIL = "fail", _("Fail the run")
    CONTINUE = "continue", _("Continue (the step's output is null)")
    ERROR_BRANCH = "error_branch", _("Follow the step's error port")
    DEFAULT_OUTPUT = "default_output", _("Continue with the step's default output")


class Step(models.Model):
    """One step of a workflow version: a block with its configuration.

    ``name`` is unique within the workflow: it is what templates reference
    (``steps.<name>.output``) and the tool name an agent sees.
    """

    workflow = models.ForeignKey(
        Workflow, on_delete=models.CASCADE, related_name="steps", verbose_name=_("workflow")
    )
    name = models.CharField(max_length=64, verbose_name=_("name"))
    block = models.CharField(
        max_length=64, help_text=_("The block's slug."), verbose_name=_("block")
    )
    description = models.TextField(
        blank=True,
        help_text=_("What the step does; an agent reads it when the step is a tool."),
        verbose_name=_("description"),
    )
    config = models.JSONField(default=dict, blank=True, verbose_name=_("config"))
    input_schema = models.JSONField(
        null=True,
        blank=True,
        help_text=_("Arguments the step takes when an agent calls it (default: the block's)."),
        verbose_name=_("input schema"),
    )
    #: ``{"attempts": 3, "backoff": "exponential", "delay_seconds": 1.0, "on": ["timeout"]}``
    retry = models.JSONField(default=dict, blank=True, verbose_name=_("retry"))
    on_error = models.CharField(
        max_length=20, choices=OnError.choices, default=OnError.FAIL, verbose_name=_("on error")
    )
    default_output = models.JSONField(null=True, blank=True, verbose_name=_("default output"))
    timeout_seconds = models.PositiveIntegerField(default=300, verbose_name=_("timeout (seconds)"))
    tool_only = models.BooleanField(
        default=False,
        help_text=_("Reachable only when an agent calls it (executeStep)."),
        verbose_name=_("tool only"),
    )
    idempotent = models.BooleanField(
        default=False,
        help_text=_("Running it twice does no harm: a step with side effects retries only then."),
        verbose_name=_("idempotent"),
    )
    position = models.PositiveIntegerField(default=0, verbose_name=_("position"))

    class Meta:
        verbose_name = _("step")
        verbose_name_plural = _("steps")
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

    workflow = models.ForeignKey(
        Workflow, on_delete=models.CASCADE, related_name="edges", verbose_name=_("workflow")
    )
    source = models.ForeignKey(
        Step, on_delete=models.CASCADE, related_name="out_edges", verbose_name=_("source")
    )
    port = models.CharField(max_length=80, default="out", verbose_name=_("port"))
    target = models.ForeignKey(
        Step, on_delete=models.CASCADE, related_name="in_edges", verbose_name=_("target")
    )

    class Meta:
        verbose_name = _("edge")
        verbose_name_plural = _("edges")
        constraints = [
            models.UniqueConstraint(
                fields=["source", "port", "target"], name="workflows_edge_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.source_id}:{self.port} → {self.target_id}"


class RunTrigger(models.TextChoices):
    API = "api", _("API")
    ADMIN = "admin", _("Admin")
    COMMAND = "command", _("Command")
    SCHEDULE = "schedule", _("Schedule")
    GOAL = "goal", _("Goal")
    SUBFLOW = "subflow", _("Subflow")
    COPILOT = "copilot", _("Copilot")


class Run(models.Model):
    """One execution of one workflow version."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        WAITING = "waiting", _("Waiting")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")
        PARTIALLY_SUCCEEDED = "partially_succeeded", _("Partially succeeded")
        CANCELLED = "cancelled", _("Cancelled")

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

    workflow = models.ForeignKey(
        Workflow, on_delete=models.PROTECT, related_name="runs", verbose_name=_("workflow")
    )
    status = models.CharField(
        max_length=24, choices=Status.choices, default=Status.QUEUED, verbose_name=_("status")
    )
    trigger = models.CharField(
        max_length=16, choices=RunTrigger.choices, default=RunTrigger.API, verbose_name=_("trigger")
    )
    triggered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("triggered by"),
    )
    #: What the run is about, e.g. ``goals.goal:12`` (free text, for people and reports).
    subject = models.CharField(max_length=120, blank=True, verbose_name=_("subject"))
    is_test = models.BooleanField(
        default=False, help_text=_("A test run of a draft version."), verbose_name=_("test run")
    )
    input = models.JSONField(default=dict, blank=True, verbose_name=_("input"))
    output = models.JSONField(null=True, blank=True, verbose_name=_("output"))
    #: Variables set by set-variables steps (``{{ vars.<name> }}``).
    vars = models.JSONField(default=dict, blank=True, verbose_name=_("variables"))
    error = models.TextField(blank=True, verbose_name=_("error"))
    #: The subflow or agent-tool step that started this run, if any.
    parent_step_run = models.ForeignKey(
        "workflows.StepRun",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="child_runs",
        verbose_name=_("parent step run"),
    )
    depth = models.PositiveSmallIntegerField(default=0, verbose_name=_("depth"))
    prompt_tokens = models.PositiveIntegerField(default=0, verbose_name=_("prompt tokens"))
    completion_tokens = models.PositiveIntegerField(default=0, verbose_name=_("completion tokens"))
    cost = models.DecimalField(max_digits=14, decimal_places=4, default=0, verbose_name=_("cost"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    started_at = models.DateTimeField(null=True, blank=True, verbose_name=_("started at"))
    finished_at = models.DateTimeField(null=True, blank=True, verbose_name=_("finished at"))
    deadline_at = models.DateTimeField(null=True, blank=True, verbose_name=_("deadline at"))

    class Meta:
        verbose_name = _("run")
        verbose_name_plural = _("runs")
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
        PENDING = "pending", _("Pending")
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")
        HANDLED_ERROR = "handled_error", _("Failed (handled)")
        SKIPPED = "skipped", _("Skipped")
        WAITING = "waiting", _("Waiting")
        CANCELLED = "cancelled", _("Cancelled")

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

    run = models.ForeignKey(
        Run, on_delete=models.CASCADE, related_name="step_runs", verbose_name=_("run")
    )
    step = models.ForeignKey(
        Step, on_delete=models.PROTECT, related_name="step_runs", verbose_name=_("step")
    )
    #: The agent step whose tool call this is (``executeStep``); null for graph steps.
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="tool_calls",
        verbose_name=_("parent"),
    )
    #: Digest of the tool name and canonical arguments: the same call twice is one row.
    call_key = models.CharField(max_length=64, blank=True, verbose_name=_("call key"))
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.PENDING, verbose_name=_("status")
    )
    input = models.JSONField(default=dict, blank=True, verbose_name=_("input"))
    output = models.JSONField(null=True, blank=True, verbose_name=_("output"))
    #: The port the step left by (``out``, ``true``, ``case:…``, ``error``).
    port = models.CharField(max_length=80, blank=True, verbose_name=_("port"))
    error_class = models.CharField(max_length=64, blank=True, verbose_name=_("error class"))
    error_message = models.TextField(blank=True, verbose_name=_("error message"))
    attempt = models.PositiveIntegerField(default=0, verbose_name=_("attempt"))
    run_after = models.DateTimeField(
        null=True, blank=True, help_text=_("Retry backoff."), verbose_name=_("run after")
    )
    lease_owner = models.CharField(max_length=120, blank=True, verbose_name=_("lease owner"))
    lease_expires_at = models.DateTimeField(
        null=True, blank=True, verbose_name=_("lease expires at")
    )
    idempotency_key = models.CharField(
        max_length=80, unique=True, verbose_name=_("idempotency key")
    )
    #: What is left of the agent budgets (iterations, tool calls, tokens, depth):
    #: kept here so they survive retries and shrink through nesting.
    budget = models.JSONField(default=dict, blank=True, verbose_name=_("budget"))
    prompt_tokens = models.PositiveIntegerField(default=0, verbose_name=_("prompt tokens"))
    completion_tokens = models.PositiveIntegerField(default=0, verbose_name=_("completion tokens"))
    cost = models.DecimalField(max_digits=14, decimal_places=4, default=0, verbose_name=_("cost"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    started_at = models.DateTimeField(null=True, blank=True, verbose_name=_("started at"))
    finished_at = models.DateTimeField(null=True, blank=True, verbose_name=_("finished at"))
    duration_ms = models.PositiveIntegerField(
        null=True, blank=True, verbose_name=_("duration (ms)")
    )

    class Meta:
        verbose_name = _("step run")
        verbose_name_plural = _("step runs")
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
