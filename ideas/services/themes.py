"""IP profiles and themes: load, freeze, activate, archive."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from pathlib import Path
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from decisions.actors import Actor
from decisions.services import audit_log
from ideas.models import IPProfile, PortfolioCounters, Theme
from ideas.theme_files import (
    IP_PROFILE_SCHEMA,
    ThemeFilesInvalid,
    document_errors,
    document_sha256,
    theme_files_validate,
)

_PROFILE_FIELDS = (
    "essence",
    "visual_motifs",
    "core_personality",
    "taboos",
    "target_audience",
    "brand_promise",
    "canon_examples",
)


class IPProfileFrozen(Exception):
    """An active IP profile cannot be edited: load a new version instead."""


class ThemeTransitionError(Exception):
    """The theme is not in a state that allows the requested transition."""


def _profile_fields(document: dict[str, Any]) -> dict[str, Any]:
    return {name: document[name] for name in _PROFILE_FIELDS}


def ip_profile_get_or_create(*, document: dict[str, Any]) -> IPProfile:
    """The profile with exactly this content, or a new draft version of its name.

    The document must already be valid. Loading the same file twice reuses the row,
    so re-running ``newtheme`` does not pile up identical versions.
    """
    sha = document_sha256(document)
    existing = IPProfile.objects.filter(name=document["name"], content_sha256=sha).first()
    if existing is not None:
        return existing
    latest = IPProfile.objects.filter(name=document["name"]).aggregate(v=Max("version"))["v"]
    profile = IPProfile(
        name=document["name"],
        version=(latest or 0) + 1,
        content_sha256=sha,
        **_profile_fields(document),
    )
    profile.full_clean()
    profile.save()
    return profile


@transaction.atomic
def ip_profile_update(
    *, profile: IPProfile, document: dict[str, Any], actor: Actor = None
) -> IPProfile:
    """Replace a draft profile's content; an active (frozen) profile refuses.

    The name and version stay: a different brand is a different profile.
    """
    if actor is not None and not actor.has_perm("ideas.change_ipprofile"):
        raise PermissionDenied("changing an IP profile needs ideas.change_ipprofile")
    locked = IPProfile.objects.select_for_update().get(pk=profile.pk)
    if locked.is_frozen:
        raise IPProfileFrozen(f"{locked} is active and frozen; load a new version instead")
    document = {**document, "name": locked.name}
    errors = document_errors(document=document, schema_name=IP_PROFILE_SCHEMA, label="ip_profile")
    if errors:
        raise ThemeFilesInvalid(errors)
    for name, value in _profile_fields(document).items():
        setattr(locked, name, value)
    locked.content_sha256 = document_sha256(document)
    locked.full_clean()
    locked.save()
    audit_log(action="ideas.ip_profile_updated", actor=actor, subject=locked, data={})
    return locked


def ip_profile_activate(*, profile: IPProfile, actor: Actor = None) -> IPProfile:
    """draft → active (frozen). Activating an active profile is a no-op."""
    with transaction.atomic():
        now = timezone.now()
        # Compare-and-set: whoever flips the row first freezes it; a second caller sees 0.
        flipped = IPProfile.objects.filter(pk=profile.pk, status=IPProfile.Status.DRAFT).update(
            status=IPProfile.Status.ACTIVE, activated_at=now
        )
        profile.refresh_from_db()
        if flipped:
            audit_log(
                action="ideas.ip_profile_activated",
                actor=actor,
                subject=profile,
                data={"name": profile.name, "version": profile.version},
            )
    return profile


#: Context managers entered around every theme switch, outside its transaction. The
#: loop that works on the theme lives in goals, which depends on ideas: goals registers
#: its pause-for-the-switch here at start-up (``GoalsConfig.ready``), so the admin's
#: Activate button and ``newtheme`` pause a working loop alike without ideas importing it.
ThemeSwitchGuard = Callable[[], AbstractContextManager[object]]
_SWITCH_GUARDS: list[ThemeSwitchGuard] = []


def theme_switch_guard_register(guard: ThemeSwitchGuard) -> None:
    """Enter ``guard()`` around every theme switch (idempotent per guard)."""
    if guard not in _SWITCH_GUARDS:
        _SWITCH_GUARDS.append(guard)


@contextmanager
def theme_switching() -> Iterator[list[object]]:
    """Enter every registered guard around a switch; yields what each guard yielded.

    Call it outside any transaction: a guard's own writes (the loop's pause) must be
    visible to the workers before the switch, and its exit (the resume) runs even when
    the switch fails.
    """
    with ExitStack() as stack:
        yield [stack.enter_context(guard()) for guard in _SWITCH_GUARDS]


@transaction.atomic
def theme_activate(*, theme: Theme, actor: Actor = None) -> Theme:
    """draft → active, archiving the theme that was active (one active theme at a time).

    The current active theme is locked first, so two activations queue instead of both
    archiving it; the conditional unique constraint is the backstop if one slips by.
    """
    locked = Theme.objects.select_for_update().get(pk=theme.pk)
    if Theme.Status.ACTIVE not in Theme.TRANSITIONS[locked.status]:
        raise ThemeTransitionError(f"a {locked.status} theme cannot be activated")
    now = timezone.now()
    for previous in Theme.objects.select_for_update().filter(status=Theme.Status.ACTIVE):
        previous.status = Theme.Status.ARCHIVED
        previous.archived_at = now
        previous.full_clean()
        previous.save(update_fields=["status", "archived_at"])
        audit_log(
            action="ideas.theme_archived",
            actor=actor,
            subject=previous,
            data={"replaced_by": locked.pk},
        )
    ip_profile_activate(profile=locked.ip_profile, actor=actor)
    locked.status = Theme.Status.ACTIVE
    locked.activated_at = now
    # The one-active constraint is checked by the UPDATE itself, atomically; a
    # read-then-check in full_clean could pass for two racing activations.
    locked.full_clean(validate_constraints=False)
    try:
        with transaction.atomic():
            locked.save(update_fields=["status", "activated_at"])
    except IntegrityError as exc:
        raise ThemeTransitionError("another theme was activated at the same time") from exc
    audit_log(
        action="ideas.theme_activated",
        actor=actor,
        subject=locked,
        data={"name": locked.name, "ip_profile": str(locked.ip_profile)},
    )
    theme.refresh_from_db()
    return theme


@transaction.atomic
def theme_archive(*, theme: Theme, actor: Actor = None) -> Theme:
    """active → archived, leaving no active theme (the loop then has nothing to do)."""
    locked = Theme.objects.select_for_update().get(pk=theme.pk)
    if Theme.Status.ARCHIVED not in Theme.TRANSITIONS[locked.status]:
        raise ThemeTransitionError(f"a {locked.status} theme cannot be archived")
    locked.status = Theme.Status.ARCHIVED
    locked.archived_at = timezone.now()
    locked.full_clean()
    locked.save(update_fields=["status", "archived_at"])
    audit_log(action="ideas.theme_archived", actor=actor, subject=locked, data={})
    theme.refresh_from_db()
    return theme


@transaction.atomic
def theme_draft_create(
    *, ip_profile: dict[str, Any], config: dict[str, Any], actor: Actor = None
) -> Theme:
    """A draft theme from already-validated documents, for a person to preview first.

    The same content returns the same row: the active theme when these are its files,
    else an identical draft already waiting, so uploading twice adds nothing. A model
    rule the schema does not express raises ``ThemeFilesInvalid`` with nothing written.
    """
    try:
        with transaction.atomic():
            profile = ip_profile_get_or_create(document=ip_profile)
            config_sha = document_sha256(config)
            same = (
                Theme.objects.filter(
                    ip_profile=profile,
                    config_sha256=config_sha,
                    status__in=(Theme.Status.ACTIVE, Theme.Status.DRAFT),
                )
                .order_by("status")  # "active" sorts before "draft"
                .first()
            )
            if same is not None:
                return same
            theme = Theme(
                name=config["project_name"],
                ip_profile=profile,
                config=config,
                config_sha256=config_sha,
                status=Theme.Status.DRAFT,
            )
            theme.full_clean()
            theme.save()
            # A new theme has no ideas: its counters start at zero, and every write moves them.
            PortfolioCounters.objects.create(theme=theme)
            audit_log(
                action="ideas.theme_drafted",
                actor=actor,
                subject=theme,
                data={"name": theme.name, "ip_profile": str(profile)},
            )
            return theme
    except ValidationError as exc:  # a model rule the schema does not express
        raise ThemeFilesInvalid([f"{key}: {'; '.join(msgs)}" for key, msgs in _pairs(exc)]) from exc


def theme_activate_from_documents(
    *, ip_profile: dict[str, Any], config: dict[str, Any], actor: Actor = None
) -> Theme:
    """Activate a theme from already-validated documents, in one transaction.

    Re-loading the files of the active theme changes nothing and returns it.
    """
    with transaction.atomic():
        theme = theme_draft_create(ip_profile=ip_profile, config=config, actor=actor)
        if theme.status == Theme.Status.ACTIVE:
            return theme
        return theme_activate(theme=theme, actor=actor)


def theme_activate_from_files(
    *, ip_profile_path: str | Path, config_path: str | Path, actor: Actor = None
) -> Theme:
    """Validate both files against the published schemas, then switch to the new theme.

    Raises ``ThemeFilesInvalid`` (each error names its field, e.g.
    ``config.iteration_policy.explore_ratio: 1.5 is greater than the maximum of 1``)
    before anything is written. Pausing and resuming the loop around the switch belongs
    to ``goals``; the ``newtheme`` command does that glue.
    """
    ip_document, config_document = theme_files_validate(
        ip_profile_path=ip_profile_path, config_path=config_path
    )
    return theme_activate_from_documents(
        ip_profile=ip_document, config=config_document, actor=actor
    )


def _pairs(exc: ValidationError) -> list[tuple[str, list[str]]]:
    if hasattr(exc, "message_dict"):
        return list(exc.message_dict.items())
    return [("theme", exc.messages)]
