"""Writing workflow definitions: documents to rows, versions, publish and retire.

Every write validates the whole resulting document with the one validator
(``document_problems``) and saves it atomically: an invalid document raises
``WorkflowInvalid`` with every problem and changes nothing. A published (or retired)
version is never changed: editing it makes the next draft version of the same key (or
reuses the open draft) and returns that.

Race safety: every write locks all the versions of the workflow's key (PostgreSQL:
``SELECT … FOR UPDATE`` in pk order, so two writers never deadlock; SQLite: the
IMMEDIATE transaction already serialises writers) and reads the document only once it
holds the lock, so two concurrent edits never lose one another. Each write's audit row
commits with it.

Publishing goes through governance (``decisions.services.policy_check``): a key never
published (``new_workflow``) or an http step to a host no published version used
before (``new_integration``) makes the version ``pending_approval`` and asks a person
(``decision_request`` with the action ``workflows.workflow_publish``,
``workflows/actions.py``); otherwise it is published at once.

One module per action cluster: ``documents`` (create, update, delete a workflow),
``parts`` (``step_*`` and ``edge_*``), ``publish`` (publish, retire, governance); they
share ``editing`` (an edit goes to a draft), ``rows`` (document to rows) and ``guards``
(permission, the key lock, the status move).
"""

from workflows.services.definitions.documents import (
    workflow_create,
    workflow_delete,
    workflow_update,
)
from workflows.services.definitions.parts import (
    edge_add,
    edge_delete,
    step_add,
    step_delete,
    step_update,
)
from workflows.services.definitions.publish import (
    PUBLISH_ACTION,
    publish_proposal,
    workflow_publish,
    workflow_publish_approved,
    workflow_publish_premise_failure,
    workflow_retire,
)

__all__ = [
    "PUBLISH_ACTION",
    "edge_add",
    "edge_delete",
    "publish_proposal",
    "step_add",
    "step_delete",
    "step_update",
    "workflow_create",
    "workflow_delete",
    "workflow_publish",
    "workflow_publish_approved",
    "workflow_publish_premise_failure",
    "workflow_retire",
    "workflow_update",
]
