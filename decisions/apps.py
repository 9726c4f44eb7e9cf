from django.apps import AppConfig


class DecisionsConfig(AppConfig):
    name = "decisions"
    verbose_name = "Governance"

    def ready(self) -> None:
        # Registers decisions' own approved-action handlers.
        from decisions import handlers  # noqa: F401
