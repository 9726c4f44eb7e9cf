"""Per-task user messages (each built by its role's module)."""

from __future__ import annotations

from goals.roles.base import TaskView
from goals.roles.critic import critic_message
from goals.roles.editor import editor_message
from goals.roles.ideator import ideator_message
from goals.roles.planner import planner_message


def test_explore_asks_for_new_directions():
    text = ideator_message(
        task=TaskView(kind="generate", task_id=3), mode="explore", ideas_text="[#1] A"
    )
    assert "EXPLORE" in text
    assert "task: 3" in text
    assert "[#1] A" in text


def test_deepen_names_the_focus_ideas():
    text = ideator_message(
        task=TaskView(kind="generate", idea_ids=(4, 9)), mode="deepen", ideas_text=""
    )
    assert "DEEPEN" in text
    assert "#4, #9" in text


def test_shake_up_lists_recent_directions_as_off_limits():
    text = ideator_message(
        task=TaskView(kind="shake_up"),
        mode="explore",
        ideas_text="",
        recent_directions=["plush toys for fans", "mugs"],
    )
    assert "SHAKE-UP" in text
    assert "off limits" in text
    assert "- plush toys for fans" in text


def test_compare_asks_for_a_ranking():
    text = critic_message(
        task=TaskView(kind="compare", idea_ids=(1, 2)), mode="deepen", ideas_text=""
    )
    assert "COMPARE ideas #1, #2" in text
    assert "ranking" in text


def test_refine_passes_the_critics_suggestion():
    task = TaskView(kind="refine", idea_ids=(5,), metadata={"suggestions": {"5": "name a price"}})
    text = editor_message(task=task, mode="deepen", ideas_text="")
    assert "- #5: name a price" in text


def test_meta_review_carries_the_system_statistics():
    text = planner_message(
        task=TaskView(kind="meta_review"),
        mode="explore",
        ideas_text="",
        stats={"ideas": 3},
        queue={"ready": 2},
        recent_work=["#1 generate"],
        corrections=["#2 human brand_fit 9"],
        explore_ratio=0.6,
        meta_stats={"diversity": 0.4},
    )
    assert "META REVIEW" in text
    assert '"diversity": 0.4' in text
    assert "current explore ratio: 0.60" in text
    assert "#2 human brand_fit 9" in text
