"""Fixtures for the ideas tests.

Personas come from tests/personas.py: alice is a superuser, bob a staff member allowed to
change ideas, charlie a staff member with no permission on ideas.
"""

from __future__ import annotations

from typing import Any

import pytest

from ideas.models import Theme
from tests.ideas.factories import ThemeFactory


@pytest.fixture
def theme(db) -> Theme:
    return ThemeFactory()


@pytest.fixture
def audit_calls(monkeypatch) -> list[dict[str, Any]]:
    """Every audit_log call (and audit_log_many entry) the ideas services make, still
    passed through to decisions."""
    import ideas.services.portfolio
    import ideas.services.scores
    import ideas.services.snapshots
    import ideas.services.themes

    calls: list[dict[str, Any]] = []
    for module in (
        ideas.services.portfolio,
        ideas.services.scores,
        ideas.services.snapshots,
        ideas.services.themes,
    ):
        original = module.audit_log

        def recorder(*, _original=original, **kwargs: Any) -> Any:
            calls.append(kwargs)
            return _original(**kwargs)

        monkeypatch.setattr(module, "audit_log", recorder)
        if hasattr(module, "audit_log_many"):
            # The batch writers: each entry is recorded as the audit_log call it replaces.
            original_many = module.audit_log_many

            def many_recorder(*, entries, _original=original_many) -> Any:
                calls.extend(
                    {"action": e.action, "actor": e.actor, "subject": e.subject, "data": e.data}
                    for e in entries
                )
                return _original(entries=entries)

            monkeypatch.setattr(module, "audit_log_many", many_recorder)
    return calls
