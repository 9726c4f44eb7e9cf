"""Issue 8's prefix aim: within an epoch, a later call of a role starts with everything an
earlier call showed up to the end of its lists that grow (the planner's recent work, the
ideator's recent directions), whatever differs per call (queue, mode, task) comes after."""

from __future__ import annotations

import pytest

from goals.roles.base import TaskView
from goals.roles.ideator import ideator_message
from goals.roles.planner import epoch_stats_get, planner_message, stats_moved
from goals.work import Work
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


def test_the_figures_that_moved_are_named_with_their_values_now():
    then = {"ideas": 40, "scores": {"novelty": {"mean": 5.1, "n": 40}}, "top_tags": [["mug", 9]]}
    now = {"ideas": 43, "scores": {"novelty": {"mean": 5.1, "n": 43}}, "top_tags": [["mug", 9]]}
    assert stats_moved(then, now) == "ideas 43; scores.novelty.n 43"
    assert stats_moved(then, then) == ""
    assert stats_moved({"ideas": 1}, {"ideas": 1, "refusals": 2}) == "refusals 2"
    assert stats_moved({"ideas": 1, "refusals": 2}, {"ideas": 1}) == "refusals none"


@pytest.mark.django_db
def test_plans_of_an_epoch_open_with_its_first_figures_and_list_what_moved_after_the_work(
    theme,
):
    """Every plan of an epoch shows the figures of its first plan (the same bytes), and
    what moved since after its recent work; the next epoch starts from its own figures."""

    def plan(number: int, stats: dict) -> str:
        work = Work(
            theme=theme, worker="w", number=number, kind="plan", role="planner", mode="explore"
        )
        return planner_message(
            task=TaskView(kind="plan", task_id=number),
            mode="explore",
            ideas_text=PORTFOLIO,
            stats=epoch_stats_get(work=work, current=stats),
            stats_now=stats,
            queue={"ready": 1},
            recent_work=[f"#{number - 1} critique/critic: ideas_scored 2"],
            corrections=[],
            explore_ratio=0.5,
        )

    first = plan(11, {"ideas": 5, "refusals": 0})
    later = plan(15, {"ideas": 7, "refusals": 0})
    figures = first[first.index("# Portfolio\n") : first.index("# Recent work")]
    assert '"ideas": 5' in figures and figures in later
    assert "# Portfolio figures that moved since, now\nideas 7" in later
    assert later.index("ideas 7") > later.index("# Recent work")
    assert "moved since" not in first
    next_epoch = plan(21, {"ideas": 7, "refusals": 0})
    assert '"ideas": 7' in next_epoch and "moved since" not in next_epoch
    # An empty portfolio is no baseline: the epoch's first plan with ideas sets it.
    assert "moved since" not in plan(31, {"ideas": 0, "refusals": 0})
    assert "moved since" not in plan(33, {"ideas": 2, "refusals": 0})
