"""The copilot: a system workflow made only of generic blocks (``copilot.json``).

The document shipped here is what ``workflows.services.copilot.copilot_install`` creates
and publishes (as the system), and what a user may copy to build an agent of their own
the same way. Nothing here imports the rest of the app: the token layer reads the key.
"""

from __future__ import annotations

from pathlib import Path

#: The key the copilot's workflow is installed under; its runs' tokens are scoped.
COPILOT_KEY = "copilot"
#: The shipped document.
DOCUMENT_PATH = Path(__file__).with_name("copilot.json")
#: The documentation collection the copilot searches (built by ``copilot_docs``).
DOCS_COLLECTION = "copilot-docs"

__all__ = ["COPILOT_KEY", "DOCS_COLLECTION", "DOCUMENT_PATH"]
