from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

AUDIT_ACTIONS = {
    "workflows.workflow_created": "A workflow draft was created",
    "workflows.workflow_updated": "A workflow draft was changed",
    "workflows.workflow_versioned": "A new draft version was made from a published workflow",
    "workflows.workflow_submitted": "A workflow was submitted for approval to publish",
    "workflows.workflow_published": "A workflow version was published",
    "workflows.workflow_publish_refused": "Publishing a workflow was refused",
    "workflows.workflow_retired": "A workflow version was retired",
    "workflows.workflow_deleted": "A workflow draft was deleted",
    "workflows.copilot_rolled_back": "A copilot request's edits were undone (all or none)",
    "workflows.run_queued": "A workflow run was queued",
    "workflows.run_started": "A workflow run started",
    "workflows.run_waiting": "A workflow run is waiting",
    "workflows.run_resumed": "A waiting workflow run goes on (no step waits for a person)",
    "workflows.run_succeeded": "A workflow run succeeded",
    "workflows.run_failed": "A workflow run failed",
    "workflows.run_partially_succeeded": "A workflow run ended with handled errors",
    "workflows.run_cancelled": "A workflow run was cancelled",
    "workflows.run_timed_out": "A workflow run passed its timeout",
    "workflows.run_over_budget": "A run's spend took a budget past its line: a person decides",
    "workflows.step_retried": "A person retried a failed step",
    "workflows.step_lease_expired": "A step's worker died; its lease lapsed and it was retried",
    "workflows.step_failed": "A step failed",
    "workflows.step_effect_allowed": "A step's bulk send or deletion was under the policy lines",
    "workflows.step_waiting": "A step waits for a person to approve its bulk send or deletion",
    "workflows.step_approved": "A person approved a waiting step; it was queued again",
    "workflows.step_refused": "A waiting step was refused (rejected or expired); it failed",
    "workflows.api_token_created": "A REST API token was created",
    "workflows.api_token_revoked": "A REST API token was revoked",
    "workflows.collection_created": "A document collection was created",
    "workflows.document_added": "A document was added to a collection",
    "workflows.document_deleted": "A document was removed from a collection",
}


class WorkflowsConfig(AppConfig):
    name = "workflows"
    verbose_name = _("Workflows")

    def ready(self) -> None:
        from decisions.audit import audit_actions_register

        audit_actions_register(AUDIT_ACTIONS)

        # The decision handlers, and the presenters that word those decisions for people.
        from workflows import actions, presenters  # noqa: F401

        self._context_providers_register()

    def _context_providers_register(self) -> None:
        """What the engine's block context hands out to blocks (which never touch the ORM)."""
        from workflows.internal_token import (
            internal_api_token_provide,
            internal_base_url_provide,
        )
        from workflows.memory import memory_provide
        from workflows.outbound import http_provide
        from workflows.rag.search import retriever_provide
        from workflows.services.context import context_provider_register

        context_provider_register("http", http_provide)
        context_provider_register("memory", memory_provide)
        context_provider_register("retriever", retriever_provide)
        context_provider_register("ctx.internal_api_token", internal_api_token_provide)
        context_provider_register("ctx.internal_base_url", internal_base_url_provide)
