"""The idea portfolio: brand core (IPProfile), project config (Theme), Ideas and Snapshots.

Only ``ideas.services`` writes these rows. ``goals`` refers to them by foreign key; the
reverse never happens: an Idea records the iteration that created it as a plain
integer (``created_by_iteration_id``) so that dependencies keep pointing goals → ideas.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

SCORE_MIN = 0.0
SCORE_MAX = 10.0


class ScoreName(models.TextChoices):
    """The three scores every idea carries (model and human), in display order."""

    BRAND_FIT = "brand_fit", _("Brand fit")
    NOVELTY = "novelty", _("Novelty")
    FEASIBILITY = "feasibility", _("Feasibility")


#: The score names as plain strings, in display order (field names derive from them).
SCORE_FIELDS: tuple[str, ...] = tuple(ScoreName.values)
#: Where the prefetched tags of an idea are kept: Django's forward many-to-many manager
#: keys them by the field's name (``Idea.tag_names`` reads them there; a test holds
#: the two equal).
TAGS_PREFETCH_NAME = "tags"


class Mode(models.TextChoices):
    """How the studio works on the portfolio: new directions, or the best ideas better."""

    EXPLORE = "explore", _("Explore")
    DEEPEN = "deepen", _("Deepen")


# Iteration-policy defaults, used when a theme's config leaves a value out. The JSON
# Schema (ideas/schemas/theme_config.schema.json) documents the same numbers.
POLICY_DEFAULTS: dict[str, Any] = {
    "token_caps": {"planner": 4096, "ideator": 6144, "critic": 4096, "editor": 4096},
    "explore_ratio": 0.6,
    "stagnation_threshold": 0.6,
    "stagnation_window": 3,
    "snapshot_every": 10,
    "meta_review_every": 25,
    "duty_cycle": 1.0,
    "daily_token_budget": 2_000_000,
}
DEFAULT_TOKEN_CAP = 4096


def _score_validators() -> list:
    return [MinValueValidator(SCORE_MIN), MaxValueValidator(SCORE_MAX)]


def _score_check(field: str) -> models.CheckConstraint:
    return models.CheckConstraint(
        condition=Q(**{f"{field}__isnull": True})
        | Q(**{f"{field}__gte": SCORE_MIN, f"{field}__lte": SCORE_MAX}),
        name=f"ideas_idea_{field}_range",
    )


class IPProfile(models.Model):
    """The immutable core of a brand.

    A draft may be edited; once active it is frozen, and a changed brand is a new
    profile with the next ``version`` of the same ``name``. ``content_sha256`` is the
    hash of the canonical JSON document, so loading the same file twice reuses the row.
    """

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        ACTIVE = "active", _("Active (frozen)")

    name = models.CharField(max_length=200, verbose_name=_("name"))
    version = models.PositiveIntegerField(default=1, verbose_name=_("version"))
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.DRAFT, verbose_name=_("status")
    )
    essence = models.TextField(verbose_name=_("essence"))
    visual_motifs = models.JSONField(default=list, verbose_name=_("visual motifs"))
    core_personality = models.JSONField(default=list, verbose_name=_("core personality"))
    taboos = models.JSONField(
        default=list,
        help_text=_("List of {topic, keywords}; keywords are matched literally."),
        verbose_name=_("taboos"),
    )
    target_audience = models.TextField(verbose_name=_("target audience"))
    brand_promise = models.TextField(verbose_name=_("brand promise"))
    canon_examples = models.JSONField(default=list, verbose_name=_("canon examples"))
    content_sha256 = models.CharField(
        max_length=64, db_index=True, verbose_name=_("content sha256")
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    activated_at = models.DateTimeField(null=True, blank=True, verbose_name=_("activated at"))

    class Meta:
        verbose_name_plural = _("IP profiles")
        verbose_name = _("IP profile")
        constraints = [
            models.UniqueConstraint(
                fields=["name", "version"], name="ideas_ipprofile_name_version"
            ),
            models.CheckConstraint(
                condition=Q(status="draft") | Q(activated_at__isnull=False),
                name="ideas_ipprofile_active_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"

    @property
    def is_frozen(self) -> bool:
        return self.status == self.Status.ACTIVE

    def as_document(self) -> dict[str, Any]:
        """The profile as the JSON document its schema describes (used for rendering)."""
        return {
            "name": self.name,
            "essence": self.essence,
            "visual_motifs": self.visual_motifs,
            "core_personality": self.core_personality,
            "taboos": self.taboos,
            "target_audience": self.target_audience,
            "brand_promise": self.brand_promise,
            "canon_examples": self.canon_examples,
        }


class Theme(models.Model):
    """A project: the IP profile plus the config the loop runs under.

    Status machine: draft → active → archived. At most one theme is active at a time,
    held by a conditional unique constraint rather than by application code.
    """

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        ACTIVE = "active", _("Active")
        ARCHIVED = "archived", _("Archived")

    TRANSITIONS: dict[str, tuple[str, ...]] = {
        Status.DRAFT: (Status.ACTIVE,),
        Status.ACTIVE: (Status.ARCHIVED,),
        Status.ARCHIVED: (),
    }

    name = models.CharField(
        max_length=200, help_text=_("The project name from the config."), verbose_name=_("name")
    )
    ip_profile = models.ForeignKey(
        IPProfile, on_delete=models.PROTECT, related_name="themes", verbose_name=_("ip profile")
    )
    config = models.JSONField(
        help_text=_("Validated against theme_config.schema.json."), verbose_name=_("config")
    )
    config_sha256 = models.CharField(max_length=64, verbose_name=_("config sha256"))
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.DRAFT, verbose_name=_("status")
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    activated_at = models.DateTimeField(null=True, blank=True, verbose_name=_("activated at"))
    archived_at = models.DateTimeField(null=True, blank=True, verbose_name=_("archived at"))

    class Meta:
        verbose_name = _("theme")
        verbose_name_plural = _("themes")
        constraints = [
            models.UniqueConstraint(
                fields=["status"], condition=Q(status="active"), name="ideas_theme_one_active"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_status_display()})"

    def clean(self) -> None:
        if not isinstance(self.config, dict):
            raise ValidationError({"config": _("The config must be a JSON object.")})
        if self.status == self.Status.ACTIVE and self.activated_at is None:
            raise ValidationError({"activated_at": _("An active theme needs its activation time.")})

    # --- config accessors: the loop reads these, never the raw dict -----------------
    @property
    def goal_type(self) -> str:
        return str(self.config.get("goal_type", ""))

    @property
    def constraints(self) -> dict[str, Any]:
        return dict(self.config.get("constraints", {}))

    @property
    def banned_external_apis(self) -> list[str]:
        return list(self.constraints.get("banned_external_apis", []))

    @property
    def idea_templates(self) -> list[dict[str, Any]]:
        return list(self.config.get("idea_templates", []))

    @property
    def iteration_policy(self) -> dict[str, Any]:
        """The policy with defaults filled in for anything the config leaves out."""
        given = self.config.get("iteration_policy", {})
        policy = {**POLICY_DEFAULTS, **given}
        policy["token_caps"] = {**POLICY_DEFAULTS["token_caps"], **given.get("token_caps", {})}
        return policy

    def token_cap(self, role: str) -> int:
        return int(self.iteration_policy["token_caps"].get(role, DEFAULT_TOKEN_CAP))

    @property
    def explore_ratio(self) -> float:
        return float(self.iteration_policy["explore_ratio"])

    @property
    def stagnation_threshold(self) -> float:
        return float(self.iteration_policy["stagnation_threshold"])

    @property
    def stagnation_window(self) -> int:
        return int(self.iteration_policy["stagnation_window"])

    @property
    def snapshot_every(self) -> int:
        return int(self.iteration_policy["snapshot_every"])

    @property
    def meta_review_every(self) -> int:
        return int(self.iteration_policy["meta_review_every"])

    @property
    def duty_cycle(self) -> float:
        return float(self.iteration_policy["duty_cycle"])

    @property
    def daily_token_budget(self) -> int:
        return int(self.iteration_policy["daily_token_budget"])


class Tag(models.Model):
    """A tag within a theme.

    Tags are rows, not a JSON list, so that "ideas sharing any of these tags" is an
    indexed join on both SQLite and PostgreSQL (SQLite has no JSON containment).
    """

    theme = models.ForeignKey(
        Theme, on_delete=models.CASCADE, related_name="tags", verbose_name=_("theme")
    )
    name = models.CharField(max_length=64, verbose_name=_("name"))
    #: How many visible ideas carry this tag: a portfolio counter (``PortfolioCounters``),
    #: kept by ``ideas.services`` in the transaction of each idea write.
    visible_ideas = models.IntegerField(default=0, editable=False, verbose_name=_("visible ideas"))

    class Meta:
        verbose_name = _("tag")
        verbose_name_plural = _("tags")
        constraints = [
            models.UniqueConstraint(fields=["theme", "name"], name="ideas_tag_theme_name"),
        ]
        indexes = [
            # The portfolio's top tags, read in order and stopped at the LIMIT.
            models.Index(fields=["theme", "-visible_ideas", "name"], name="ideas_tag_top"),
        ]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Idea(models.Model):
    """One business idea in a theme's portfolio.

    Scores are 0–10. Model scores are what the critic said; ``human_*`` are corrections
    from a person and win when set (``effective_*``). ``priority`` is derived from the
    effective scores and the review flag by ``ideas.services`` and stored so the planner
    reads the top of the portfolio from an index instead of sorting 100,000 rows.
    """

    class Status(models.TextChoices):
        CANDIDATE = "candidate", _("Candidate")
        ACTIVE = "active", _("Active")
        REVIEWED = "reviewed", _("Reviewed")
        ARCHIVED = "archived", _("Archived")
        REFUSED = "refused", _("Refused")

    # Statuses the loop may show to the model or pick as work.
    VISIBLE_STATUSES = (Status.CANDIDATE, Status.ACTIVE, Status.REVIEWED)
    TRANSITIONS: dict[str, tuple[str, ...]] = {
        Status.CANDIDATE: (Status.ACTIVE, Status.REVIEWED, Status.ARCHIVED, Status.REFUSED),
        Status.ACTIVE: (Status.REVIEWED, Status.ARCHIVED, Status.REFUSED),
        Status.REVIEWED: (Status.ACTIVE, Status.ARCHIVED, Status.REFUSED),
        Status.ARCHIVED: (Status.CANDIDATE,),
        Status.REFUSED: (),
    }

    theme = models.ForeignKey(
        Theme, on_delete=models.PROTECT, related_name="ideas", verbose_name=_("theme")
    )
    title = models.CharField(max_length=200, verbose_name=_("title"))
    summary = models.CharField(
        max_length=300, blank=True, help_text=_("One line."), verbose_name=_("summary")
    )
    target_audience = models.TextField(blank=True, verbose_name=_("target audience"))
    value_proposition = models.TextField(blank=True, verbose_name=_("value proposition"))
    revenue_model = models.TextField(blank=True, verbose_name=_("revenue model"))

    brand_fit = models.FloatField(
        null=True, blank=True, validators=_score_validators(), verbose_name=_("brand fit")
    )
    novelty = models.FloatField(
        null=True, blank=True, validators=_score_validators(), verbose_name=_("novelty")
    )
    feasibility = models.FloatField(
        null=True, blank=True, validators=_score_validators(), verbose_name=_("feasibility")
    )
    human_brand_fit = models.FloatField(
        null=True, blank=True, validators=_score_validators(), verbose_name=_("human brand fit")
    )
    human_novelty = models.FloatField(
        null=True, blank=True, validators=_score_validators(), verbose_name=_("human novelty")
    )
    human_feasibility = models.FloatField(
        null=True, blank=True, validators=_score_validators(), verbose_name=_("human feasibility")
    )
    priority = models.FloatField(default=0.0, editable=False, verbose_name=_("priority"))

    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.CANDIDATE, verbose_name=_("status")
    )
    tags = models.ManyToManyField(Tag, related_name="ideas", blank=True, verbose_name=_("tags"))
    related = models.ManyToManyField(
        "self", blank=True, symmetrical=True, verbose_name=_("related")
    )

    fingerprint = models.CharField(
        max_length=64,
        editable=False,
        help_text=_("SHA-256 of the normalised title."),
        verbose_name=_("fingerprint"),
    )
    created_by_iteration_id = models.BigIntegerField(
        null=True, blank=True, db_index=True, verbose_name=_("created by iteration ID")
    )
    updated_by_iteration_id = models.BigIntegerField(
        null=True, blank=True, verbose_name=_("updated by iteration ID")
    )
    reviewed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("reviewed at"))
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("reviewed by"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("idea")
        verbose_name_plural = _("ideas")
        constraints = [
            # A repeated delivery of the same model output finds this row instead of
            # inserting a twin: the dedupe is the database's, not a read-then-write.
            models.UniqueConstraint(fields=["theme", "fingerprint"], name="ideas_idea_fingerprint"),
            *(_score_check(f) for f in SCORE_FIELDS),
            *(_score_check(f"human_{f}") for f in SCORE_FIELDS),
        ]
        indexes = [
            models.Index(fields=["theme", "status", "-priority"], name="ideas_idea_priority"),
            models.Index(fields=["theme", "-updated_at"], name="ideas_idea_recent"),
            # The home page's "ideas this week": a range of the theme's newest ideas.
            models.Index(fields=["theme", "-created_at"], name="ideas_idea_created"),
            # The studio chart's per-day counts and average scores (goals.selectors_charts
            # ideas_by_day): every column it reads, so each day is a range of this index
            # alone, never a visit to the 100,000 wide rows.
            models.Index(
                fields=[
                    "theme",
                    "created_at",
                    "status",
                    "brand_fit",
                    "human_brand_fit",
                    "novelty",
                    "human_novelty",
                    "feasibility",
                    "human_feasibility",
                ],
                name="ideas_idea_chart",
            ),
            # The planner's ORDER BY (ideas.selectors.PRIORITY_ORDER) with the status at
            # the end: the database walks the theme's ideas best first, skips invisible
            # ones from the index itself and stops at the LIMIT. The index above cannot
            # serve it: with three visible statuses its order is per status.
            models.Index(
                fields=["theme", "-priority", "-updated_at", "-id", "status"],
                name="ideas_idea_priority_order",
            ),
            # Ideas a person reviewed or re-scored, newest review first (the planner's
            # corrections). Partial, so it holds only those few ideas; its condition is
            # spelled exactly as the query's filter, which SQLite needs to use it.
            # The admin's idea list, best first across themes (ideas.admin.IdeaAdmin's
            # ordering): its first page without sorting 100,000 rows.
            models.Index(fields=["-priority", "-id"], name="ideas_idea_admin_order"),
            models.Index(
                fields=["theme", "-reviewed_at", "-updated_at"],
                condition=~Q(reviewed_at__isnull=True, human_brand_fit__isnull=True),
                name="ideas_idea_corrected",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def effective_brand_fit(self) -> float | None:
        return self.human_brand_fit if self.human_brand_fit is not None else self.brand_fit

    @property
    def effective_novelty(self) -> float | None:
        return self.human_novelty if self.human_novelty is not None else self.novelty

    @property
    def effective_feasibility(self) -> float | None:
        return self.human_feasibility if self.human_feasibility is not None else self.feasibility

    def effective_scores(self) -> dict[str, float | None]:
        return {f: getattr(self, f"effective_{f}") for f in SCORE_FIELDS}

    @property
    def is_human_corrected(self) -> bool:
        return any(getattr(self, f"human_{f}") is not None for f in SCORE_FIELDS)

    @property
    def tag_names(self) -> list[str]:
        """Tag names; uses the prefetch cache when the caller prefetched ``tags``."""
        # The prefetched tags read straight from where ``prefetch_related`` (and the
        # selectors' ``_tags_prefetched``) leave them: what ``self.tags.all()`` returns
        # then, without building the related manager on every call, most of its cost
        # when a prompt lists 80 ideas. Adding or removing a tag drops that entry
        # (Django's manager does), so it is never stale; without one, the manager reads.
        cache = getattr(self, "_prefetched_objects_cache", None)
        tags = cache.get(TAGS_PREFETCH_NAME) if cache else None
        return sorted(tag.name for tag in (self.tags.all() if tags is None else tags))


class PortfolioCounters(models.Model):
    """A theme's portfolio in running totals: what ``portfolio_stats`` would count.

    One row per theme, moved by ``ideas.services`` in the same transaction as every idea
    write, by relative ``F()`` updates (one UPDATE per batch), so concurrent writers add
    up instead of overwriting each other. ``portfolio_counters_rebuild`` recounts it from
    the ideas (the scan is the definition); whoever inserts ideas around the services
    (test factories, benchmarks) calls it. The score columns hold, over visible ideas,
    how many have the effective score set, its sum and its sum of squares: the mean and
    the variance without reading an idea. Per-tag counts live on ``Tag.visible_ideas``.
    """

    theme = models.OneToOneField(
        Theme,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="counters",
        verbose_name=_("theme"),
    )
    candidate = models.IntegerField(default=0, verbose_name=_("candidate"))
    active = models.IntegerField(default=0, verbose_name=_("active"))
    reviewed = models.IntegerField(default=0, verbose_name=_("reviewed"))
    archived = models.IntegerField(default=0, verbose_name=_("archived"))
    refused = models.IntegerField(default=0, verbose_name=_("refused"))
    #: Visible ideas with any human score, and visible ideas a person reviewed.
    visible_human_corrected = models.IntegerField(
        default=0, verbose_name=_("visible human corrected")
    )
    visible_reviewed_at = models.IntegerField(default=0, verbose_name=_("visible reviewed at"))
    #: ``IdeaRefusal`` rows of the theme.
    refusals = models.IntegerField(default=0, verbose_name=_("refusals"))
    brand_fit_n = models.IntegerField(default=0, verbose_name=_("brand fit n"))
    brand_fit_sum = models.FloatField(default=0.0, verbose_name=_("brand fit sum"))
    brand_fit_sq = models.FloatField(default=0.0, verbose_name=_("brand fit sq"))
    novelty_n = models.IntegerField(default=0, verbose_name=_("novelty n"))
    novelty_sum = models.FloatField(default=0.0, verbose_name=_("novelty sum"))
    novelty_sq = models.FloatField(default=0.0, verbose_name=_("novelty sq"))
    feasibility_n = models.IntegerField(default=0, verbose_name=_("feasibility n"))
    feasibility_sum = models.FloatField(default=0.0, verbose_name=_("feasibility sum"))
    feasibility_sq = models.FloatField(default=0.0, verbose_name=_("feasibility sq"))
    #: How many writes moved the row since its last recount (``rebuilt_at``).
    writes = models.BigIntegerField(default=0, verbose_name=_("writes"))
    rebuilt_at = models.DateTimeField(null=True, blank=True, verbose_name=_("rebuilt at"))

    class Meta:
        verbose_name = _("portfolio counters")
        verbose_name_plural = _("portfolio counters")

    def __str__(self) -> str:
        return f"counters of theme {self.theme_id}"


class IdeaChange(models.Model):
    """A field-level diff of an Idea, with the iteration (or person) that made it."""

    idea = models.ForeignKey(
        Idea, on_delete=models.CASCADE, related_name="changes", verbose_name=_("idea")
    )
    field = models.CharField(max_length=64, verbose_name=_("field"))
    old = models.JSONField(null=True, blank=True, verbose_name=_("old"))
    new = models.JSONField(null=True, blank=True, verbose_name=_("new"))
    iteration_id = models.BigIntegerField(
        null=True, blank=True, db_index=True, verbose_name=_("iteration ID")
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("actor"),
    )
    reason = models.CharField(max_length=600, blank=True, verbose_name=_("reason"))
    at = models.DateTimeField(auto_now_add=True, verbose_name=_("at"))

    class Meta:
        verbose_name = _("idea change")
        verbose_name_plural = _("idea changes")
        indexes = [models.Index(fields=["idea", "at"], name="ideas_change_idea_at")]
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.idea_id}.{self.field}"


class IdeaRefusal(models.Model):
    """An idea the model proposed that broke a taboo or the built-in line.

    Kept apart from Idea so a refused proposal can never surface as a candidate.
    """

    theme = models.ForeignKey(
        Theme, on_delete=models.CASCADE, related_name="refusals", verbose_name=_("theme")
    )
    idea = models.ForeignKey(
        Idea,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="refusals",
        help_text=_("Set when the refused content was an update of an existing idea."),
        verbose_name=_("idea"),
    )
    title = models.CharField(max_length=200, verbose_name=_("title"))
    fingerprint = models.CharField(max_length=64, verbose_name=_("fingerprint"))
    data = models.JSONField(verbose_name=_("data"))
    reasons = models.JSONField(verbose_name=_("reasons"))
    iteration_id = models.BigIntegerField(null=True, blank=True, verbose_name=_("iteration ID"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("idea refusal")
        verbose_name_plural = _("idea refusals")
        indexes = [models.Index(fields=["theme", "-created_at"], name="ideas_refusal_recent")]

    def __str__(self) -> str:
        return f"refused: {self.title}"


class Snapshot(models.Model):
    """The portfolio as Markdown at a point in time, with its statistics."""

    theme = models.ForeignKey(
        Theme, on_delete=models.CASCADE, related_name="snapshots", verbose_name=_("theme")
    )
    iteration_count = models.PositiveIntegerField(verbose_name=_("iteration count"))
    markdown = models.TextField(verbose_name=_("markdown"))
    stats = models.JSONField(default=dict, verbose_name=_("stats"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("snapshot")
        verbose_name_plural = _("snapshots")
        constraints = [
            # At-least-once delivery of the snapshot tick must not write two snapshots.
            models.UniqueConstraint(
                fields=["theme", "iteration_count"], name="ideas_snapshot_per_iteration"
            ),
        ]
        ordering = ["-created_at", "-id"]
        get_latest_by = "created_at"

    def __str__(self) -> str:
        return f"{self.theme.name} @ {self.iteration_count}"
