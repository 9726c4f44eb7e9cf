"""Issue 8's prefix aim for the ideator and the meta review: what stays put within a
context epoch comes before what grows, and nothing is shown twice.

- A deepen's focus (the top of the portfolio) is the epoch's rendering, before the
  directions explored since the epoch began (they grow by every ideator call); the
  changes, the mode's ask and the request come last.
- A task with ideas of its own never gets the epoch's rendering of another focus.
- The meta review's statistics leave out the portfolio figures the prompt states above.
"""

from __future__ import annotations

import pytest
from django.utils import timezone

from goals.models import Iteration
from goals.roles.base import TaskView
from goals.roles.ideator import DIRECTIONS_SINCE_HEADING, ideator_message
from goals.roles.planner import SYSTEM_STATISTICS_HEADING, meta_stats_text, planner_message
from goals.selectors import recent_directions_since, recent_directions_split
from ideas.context import CHANGES_HEADING, context_build
from ideas.services import idea_scores_set
from tests.ideas.factories import IdeaFactory

PORTFOLIO = "## Portfolio (the best ideas; refreshed every few iterations)\n- [#1] Mug — a mug"
FOCUS = "## Ideas in focus\n### [#1] (title, summary, tags: as in the portfolio above)"
BUDGET = 6000


def _deepen(*, since: list[str], changes: str, task_id: int, ids: tuple[int, ...]) -> str:
    text = f"{PORTFOLIO}\n{FOCUS}" + (f"\n{changes}" if changes else "")
    return ideator_message(
        task=TaskView(kind="generate", task_id=task_id, idea_ids=ids),
        mode="deepen",
        ideas_text=text,
        recent_directions=["mugs for nurses (Night mug)"],
        directions_since=since,
    )


def test_a_later_deepen_shares_the_focus_and_the_earlier_directions_since():
    earlier = _deepen(since=["totes for students (Exam tote)"], changes="", task_id=7, ids=(1,))
    later = _deepen(
        since=["totes for students (Exam tote)", "teas for parents (Night tea)"],
        changes=f"{CHANGES_HEADING}\n- [#9] new: Moon tea (brand_fit 8, ...)",
        task_id=9,
        ids=(1, 9),
    )
    end = earlier.index("(Exam tote)") + len("(Exam tote)")
    assert later.startswith(earlier[:end])
    # Stable first: the portfolio, the directions before the epoch, the focus; then the
    # directions since, then what differs per call: the changes, the ask, the request.
    order = [
        "# Ideas\n",
        "(Night mug)",
        "## Ideas in focus",
        DIRECTIONS_SINCE_HEADING,
        "(Night tea)",
        CHANGES_HEADING,
        "DEEPEN. Develop the focus ideas #1, #9",
        "task: 9",
        "Propose 3 ideas.",
    ]
    positions = [later.index(part) for part in order]
    assert positions == sorted(positions)


def test_a_shake_up_opens_as_a_generate_and_lists_every_direction_once():
    """A shake-up follows a generate of the same epoch: the same portfolio and directions
    open it; the directions stagnation stored follow the ask, less those listed above."""
    generate = ideator_message(
        task=TaskView(kind="generate", task_id=2),
        mode="explore",
        ideas_text=PORTFOLIO,
        recent_directions=["mugs for nurses"],
        directions_since=["totes for students"],
    )
    text = ideator_message(
        task=TaskView(kind="shake_up", task_id=3),
        mode="explore",
        ideas_text=PORTFOLIO,
        recent_directions=["mugs for nurses"],
        directions_since=["totes for students", "teas for parents"],
        off_limits=["teas for parents", "plush for fans"],
    )
    end = generate.index("- totes for students") + len("- totes for students")
    assert text.startswith(generate[:end])
    ask = text.index("SHAKE-UP")
    assert text.index("- teas for parents") < ask
    off_limits = text[text.index("# Recent directions (off limits)") :]
    assert off_limits.startswith("# Recent directions (off limits)\n- plush for fans\n\n")
    assert text.count("teas for parents") == 1


@pytest.mark.django_db
def test_the_directions_split_at_the_epoch_and_join_to_the_whole_list(theme):
    now = timezone.now()
    for number in (3, 5, 11, 14):
        Iteration.objects.create(
            theme=theme,
            number=number,
            role="ideator",
            mode="explore",
            outcome="ok",
            started_at=now,
            finished_at=now,
            parsed={"direction": f"d{number}", "ideas": [{"title": f"t{number}"}]},
        )
    before, since = recent_directions_split(theme=theme, limit=1, since=11)
    assert before == ["d5 (t5)"]
    assert since == ["d11 (t11)", "d14 (t14)"]
    assert recent_directions_since(theme=theme, limit=1, since=11) == before + since


@pytest.mark.django_db
def test_a_task_with_its_own_ideas_gets_them_not_the_epochs_top(theme):
    """The ideator keeps a deepen's rendering for the epoch; a later task in that epoch
    that names other ideas (a generate building on them) shows those in full."""
    top = [IdeaFactory(theme=theme, brand_fit=8.0, tags=["mug"]) for _ in range(3)]
    others = [IdeaFactory(theme=theme, brand_fit=3.0, tags=["tote"]) for _ in range(2)]

    def build(focus):
        return context_build(
            theme=theme,
            role="ideator",
            focus_ideas=focus,
            token_budget=BUDGET,
            epoch=4,
            focus_per_epoch=True,
        )

    first = build(top)
    # The top re-ranked with a new score: the epoch's rendering, the score under changes.
    idea_scores_set(idea=top[2], scores={"brand_fit": 9.5}, iteration_id=2)
    reranked = build([top[2], top[0], top[1]])
    assert reranked.ideas_text == first.ideas_text
    assert f"[#{top[2].pk}] now" in reranked.changes_text
    # A task about other ideas: its own rendering, its ideas in full.
    own = build(others)
    assert set(own.full_idea_ids) == {idea.pk for idea in others}
    assert own.changes_text == ""


def test_the_meta_review_states_each_portfolio_figure_once():
    now = {"ideas": 9, "diversity": 0.8, "scores": {"novelty": {"mean": 5.0}}}
    meta = {
        "ideas": 9,
        "diversity": 0.8,
        "scores": {"novelty": {"mean": 5.0}},
        "recent_failure_rate": 0.1,
        "ideator_repetition": 0.2,
    }
    assert meta_stats_text(meta, shown=now) == (
        '{"ideator_repetition": 0.2, "recent_failure_rate": 0.1}'
    )
    # A figure computed at another moment than the one above is kept.
    assert '"ideas": 10' in meta_stats_text({**meta, "ideas": 10}, shown=now)
    text = planner_message(
        task=TaskView(kind="meta_review", task_id=26),
        mode="deepen",
        ideas_text=PORTFOLIO,
        stats={"ideas": 7, "diversity": 0.8, "scores": {"novelty": {"mean": 5.0}}},
        stats_now=now,
        queue={},
        recent_work=[],
        corrections=[],
        explore_ratio=0.5,
        meta_stats=meta,
    )
    # Every figure is in the prompt: the epoch's figures, what moved since (ideas 9),
    # and the loop's own record after the request.
    assert "# Portfolio figures that moved since, now\nideas 9" in text
    system = text[text.index(f"# {SYSTEM_STATISTICS_HEADING}") :]
    assert text.index("META REVIEW") < text.index(system)
    assert '"recent_failure_rate": 0.1' in system
    assert '"diversity"' not in system and '"scores"' not in system
