"""The one status checker: every status change of a run or a step run goes through here.

A transition table that nothing reads drifts, so each service states the statuses it
moves a row from and to, this module checks the pair against the model's
``TRANSITIONS`` and writes the change as one compare-and-set ``UPDATE`` whose ``WHERE``
names the expected current status: of two workers racing, exactly one changes the row,
and the other learns it from the count.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import Model, Q

from workflows.errors import WorkflowStateError


def transition_check(model: type[Model], current: str, new: str) -> None:
    """Raise ``WorkflowStateError`` unless ``model.TRANSITIONS`` allows current → new."""
    table: dict[str, tuple[str, ...]] = model.TRANSITIONS  # type: ignore[attr-defined]
    if new not in table.get(current, ()):
        raise WorkflowStateError(
            f"a {model._meta.verbose_name} cannot go from {current!r} to {new!r}"
        )


def status_move(
    model: type[Model],
    *,
    pk: int,
    sources: Iterable[str],
    target: str,
    where: Q | None = None,
    **changes: Any,
) -> int:
    """Move row ``pk`` from any of ``sources`` to ``target`` (with ``changes``) if it is
    still in one of them (and matches ``where``); returns 1 when it moved, else 0."""
    sources = tuple(sources)
    for source in sources:
        transition_check(model, source, target)
    rows = model._default_manager.filter(pk=pk, status__in=sources)
    if where is not None:
        rows = rows.filter(where)
    return rows.update(status=target, **changes)
