"""Writes to the portfolio. The only code that changes ``ideas`` rows."""

from ideas.services.counters import portfolio_counters_rebuild
from ideas.services.portfolio import (
    IdeaDataInvalid,
    IdeaRefused,
    IdeaTransitionError,
    Upserted,
    idea_fingerprint,
    idea_update,
    idea_upsert,
    ideas_upsert,
)
from ideas.services.scores import (
    idea_archive,
    idea_human_correct,
    idea_mark_reviewed,
    idea_scores_set,
    ideas_scores_set,
)
from ideas.services.snapshots import snapshot_create, snapshot_markdown
from ideas.services.themes import (
    IPProfileFrozen,
    ThemeTransitionError,
    ip_profile_activate,
    ip_profile_get_or_create,
    ip_profile_update,
    theme_activate,
    theme_activate_from_documents,
    theme_activate_from_files,
    theme_archive,
    theme_draft_create,
    theme_switch_guard_register,
    theme_switching,
)
from ideas.theme_files import ThemeFilesInvalid

__all__ = [
    "IPProfileFrozen",
    "IdeaDataInvalid",
    "IdeaRefused",
    "IdeaTransitionError",
    "ThemeFilesInvalid",
    "ThemeTransitionError",
    "Upserted",
    "idea_archive",
    "idea_fingerprint",
    "idea_human_correct",
    "idea_mark_reviewed",
    "idea_scores_set",
    "idea_update",
    "idea_upsert",
    "ideas_scores_set",
    "ideas_upsert",
    "ip_profile_activate",
    "ip_profile_get_or_create",
    "ip_profile_update",
    "portfolio_counters_rebuild",
    "snapshot_create",
    "snapshot_markdown",
    "theme_activate",
    "theme_activate_from_documents",
    "theme_activate_from_files",
    "theme_archive",
    "theme_draft_create",
    "theme_switch_guard_register",
    "theme_switching",
]
