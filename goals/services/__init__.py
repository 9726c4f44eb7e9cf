"""The only writers of goals' state. Import services from here."""

from goals.services.governance import (
    meta_review_stats,
    strategy_apply,
    strategy_propose,
    token_budget_decision_request,
    token_budget_extend,
)
from goals.services.iteration import IterationReport, iteration_run
from goals.services.loop import (
    loop_backoff_clear,
    loop_backoff_enter,
    loop_current_set,
    loop_pause,
    loop_resume,
    loop_schedule_ensure,
    loop_schedule_remove,
    loop_start,
    loop_state_get,
    loop_stop,
)
from goals.services.queue import (
    LeaseLost,
    TaskTransitionError,
    task_claim_next,
    task_complete,
    task_create,
    task_fail,
    task_leases_expire,
    task_release,
    task_requeue,
)

__all__ = [
    "IterationReport",
    "LeaseLost",
    "TaskTransitionError",
    "iteration_run",
    "loop_backoff_clear",
    "loop_backoff_enter",
    "loop_current_set",
    "loop_pause",
    "loop_resume",
    "loop_schedule_ensure",
    "loop_schedule_remove",
    "loop_start",
    "loop_state_get",
    "loop_stop",
    "meta_review_stats",
    "strategy_apply",
    "strategy_propose",
    "task_claim_next",
    "task_complete",
    "task_create",
    "task_fail",
    "task_leases_expire",
    "task_release",
    "task_requeue",
    "token_budget_decision_request",
    "token_budget_extend",
]
