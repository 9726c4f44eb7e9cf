"""``work_pick``: the claimed task, the mode and the focus ideas, with no read it cannot use."""

from __future__ import annotations

import pytest
from django.utils import timezone

from goals.selectors import loop_state_get
from goals.services.work import work_pick
from ideas.mode import mode_choose
from tests.ideas.factories import IdeaFactory

pytestmark = pytest.mark.django_db


def _scatter_spy(monkeypatch) -> list[int]:
    import goals.services.work as work

    measured: list[int] = []
    real = work.scatter_measure

    def spy(*, theme):
        measured.append(theme.pk)
        return real(theme=theme)

    monkeypatch.setattr(work, "scatter_measure", spy)
    return measured


@pytest.mark.parametrize("stalled", [True, False])
def test_a_stalled_pick_reads_no_scatter_and_chooses_the_same_mode(
    theme, monkeypatch, django_assert_num_queries, stalled
):
    """A stall wins over scatter, so the newest ideas are not read for it: one query less
    (the state, the claim and the planner's focus ideas remain), the mode unchanged."""
    IdeaFactory.create_batch(4, theme=theme)
    measured = _scatter_spy(monkeypatch)
    state = loop_state_get()
    with django_assert_num_queries(2 if stalled else 3):
        work = work_pick(
            theme=theme,
            worker="w",
            state=state,
            now=timezone.now(),
            last_number=6,
            shake_up_open=stalled,
        )
    assert measured == ([] if stalled else [theme.pk])
    ratio = theme.explore_ratio
    for scatter in (0.0, 1.0):  # whatever the scatter, a stalled pick's mode is the same
        if stalled:
            assert work.mode == mode_choose(
                iteration_number=7, explore_ratio=ratio, stalled=True, scatter=scatter
            )
    assert work.kind == "plan" and len(work.focus_ideas) == 4
