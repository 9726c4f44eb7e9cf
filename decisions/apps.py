from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DecisionsConfig(AppConfig):
    name = "decisions"
    verbose_name = _("Governance")

    def ready(self) -> None:
        # Registers decisions' own approved-action handlers.
        from decisions import handlers  # noqa: F401
