from django.apps import AppConfig

AUDIT_ACTIONS = {
    "workflows.workflow_created": "A workflow draft was created",
    "workflows.workflow_updated": "A workflow draft was changed",
    "workflows.workflow_versioned": "A new draft version was made from a published workflow",
    "workflows.workflow_submitted": "A workflow was submitted for approval to publish",
    "workflows.workflow_published": "A workflow version was published",
    "workflows.workflow_publish_refused": "Publishing a workflow was refused",
    "workflows.workflow_retired": "A workflow version was retired",
    "workflows.workflow_deleted": "A workflow draft was deleted",
    "workflows.run_queued": "A workflow run was queued",
    "workflows.run_started": "A workflow run started",
    "workflows.run_waiting": "A workflow run is waiting",
    "workflows.run_succeeded": "A workflow run succeeded",
    "workflows.run_failed": "A workflow run failed",
    "workflows.run_partially_succeeded": "A workflow run ended with handled errors",
    "workflows.run_cancelled": "A workflow run was cancelled",
    "workflows.run_timed_out": "A workflow run passed its timeout",
    "workflows.step_retried": "A person retried a failed step",
    "workflows.step_lease_expired": "A step's worker died; its lease lapsed and it was retried",
    "workflows.step_failed": "A step failed",
    "workflows.api_token_created": "A REST API token was created",
    "workflows.api_token_revoked": "A REST API token was revoked",
    "workflows.collection_created": "A document collection was created",
    "workflows.document_added": "A document was added to a collection",
    "workflows.document_deleted": "A document was removed from a collection",
}


class WorkflowsConfig(AppConfig):
    name = "workflows"
    verbose_name = "Workflows"

    def ready(self) -> None:
        from decisions.audit import audit_actions_register

        audit_actions_register(AUDIT_ACTIONS)
