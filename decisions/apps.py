from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DecisionsConfig(AppConfig):
    name = "decisions"
    verbose_name = _("Governance")

    def ready(self) -> None:
        from bizagent.notify import message_language_lookup_set

        # Registers decisions' own approved-action handlers.
        from decisions import handlers  # noqa: F401
        from decisions.services.person import person_language

        # Mails and Telegram messages go out in each recipient's own language.
        message_language_lookup_set(lambda user_id: person_language(user_id=user_id))
