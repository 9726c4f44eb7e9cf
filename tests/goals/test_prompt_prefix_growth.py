"""Issue 8's prefix aim: within an epoch, a later call of a role starts with everything an
earlier call showed up to the end of its lists that grow (the planner's recent work, the
ideator's recent directions), whatever differs per call (queue, mode, task) comes after."""

from __future__ import annotations

from goals.roles.base import TaskView
from goals.roles.ideator import ideator_message
from goals.roles.planner import planner_message
from ideas.context import PORTFOLIO_HEADING

PORTFOLIO = f"{PORTFOLIO_HEADING}\n- [#1] Mug — a mug [mug]\n- [#2] Tote — a tote [tote]"


def _planner(recent: list[str], queue: dict[str, int], stats: dict[str, int]) -> str:
    return planner_message(
        task=TaskView(kind="plan"),
        mode="explore",
        ideas_text=PORTFOLIO,
        stats=stats,
        queue=queue,
        recent_work=recent,
        corrections=[],
        explore_ratio=0.5,
    )


def test_a_later_plan_starts_with_the_earlier_plans_recent_work():
    earlier = _planner(["#11 critique/critic: ideas_scored 2"], {"ready": 2}, {"ideas": 5})
    later = _planner(
        ["#11 critique/critic: ideas_scored 2", "#12 plan/planner: tasks_queued 3"],
        {"ready": 3, "done": 4},
        {"ideas": 5},
    )
    end = earlier.index("#11 critique/critic: ideas_scored 2") + len("ideas_scored 2")
    assert later.startswith(earlier[:end])
    # The queue, which changes between any two calls, follows the recent work.
    assert later.index("# Queue") > later.index("#12 plan/planner")


def _ideator(directions: list[str], mode: str, task_id: int) -> str:
    return ideator_message(
        task=TaskView(kind="generate", task_id=task_id),
        mode=mode,
        ideas_text=PORTFOLIO,
        recent_directions=directions,
    )


def test_a_later_ideator_call_starts_with_the_earlier_calls_directions():
    earlier = _ideator(["mugs for nurses (Night mug)"], "explore", 7)
    later = _ideator(["mugs for nurses (Night mug)", "totes for students (Exam tote)"], "deepen", 9)
    end = earlier.index("(Night mug)") + len("(Night mug)")
    assert later.startswith(earlier[:end])
    # The mode's ask comes after the directions: it is what differs per call.
    assert later.index("DEEPEN") > later.index("(Exam tote)")
