from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

AUDIT_ACTIONS = {
    "ideas.idea_created": "An idea was added to the portfolio",
    "ideas.idea_updated": "An idea was changed",
    "ideas.idea_refused": "An idea was refused (taboo or safety line)",
    "ideas.idea_scored": "An idea was scored by the model",
    "ideas.ideas_archived": "Ideas were archived",
    "ideas.ideas_reviewed": "Ideas were marked reviewed",
    "ideas.scores_corrected": "A person corrected an idea's scores",
    "ideas.snapshot_created": "A portfolio snapshot was taken",
    "ideas.ip_profile_activated": "An IP profile was activated",
    "ideas.ip_profile_updated": "A draft IP profile was edited",
    "ideas.theme_activated": "A theme was activated",
    "ideas.theme_archived": "A theme was archived",
    "ideas.theme_drafted": "A theme was uploaded as a draft to preview",
}


class IdeasConfig(AppConfig):
    name = "ideas"
    verbose_name = _("Idea portfolio")

    def ready(self) -> None:
        from decisions.audit import audit_actions_register

        audit_actions_register(AUDIT_ACTIONS)
