"""``role_prompt_bytes``: the role's last prompt as the loop compares it, read every call
and decoded only when its stored text is not the one this process last wrote or read,
so another worker's write (or a rolled-back one of ours) is never missed."""

from __future__ import annotations

import pytest
from django.db import transaction

from goals.models import RolePrompt
from goals.selectors import role_prompt_bytes, role_prompt_ids
from goals.services.loop import loop_iteration_count
from goals.stats import prompt_ids_bytes, prompt_ids_pack

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


class _Boom(Exception):
    pass


def test_it_reads_what_role_prompt_ids_reads():
    RolePrompt.objects.all().delete()
    assert role_prompt_bytes(role="critic") is None
    loop_iteration_count(role="critic", tokens=1, failed=False, prompt_ids=[1, 2, 200_018])
    assert role_prompt_bytes(role="critic") == prompt_ids_bytes([1, 2, 200_018])
    loop_iteration_count(
        role="critic", tokens=1, failed=False, prompt_bytes=prompt_ids_bytes([5, 6])
    )
    assert role_prompt_bytes(role="critic") == prompt_ids_bytes([5, 6])
    assert role_prompt_ids(role="critic") == [5, 6]


def test_another_workers_write_is_read_not_the_kept_one():
    loop_iteration_count(role="editor", tokens=1, failed=False, prompt_ids=[1, 2, 3])
    assert role_prompt_bytes(role="editor") == prompt_ids_bytes([1, 2, 3])
    # Another process writes the role's row: this process has not seen that text.
    RolePrompt.objects.filter(role="editor").update(ids=prompt_ids_pack([9, 8]))
    assert role_prompt_bytes(role="editor") == prompt_ids_bytes([9, 8])
    # And reading it twice gives it twice (kept after the first read).
    assert role_prompt_bytes(role="editor") == prompt_ids_bytes([9, 8])


def test_a_rolled_back_write_is_not_served():
    loop_iteration_count(role="planner", tokens=1, failed=False, prompt_ids=[4, 5])
    with pytest.raises(_Boom), transaction.atomic():
        loop_iteration_count(role="planner", tokens=1, failed=False, prompt_ids=[6, 7])
        raise _Boom
    assert role_prompt_bytes(role="planner") == prompt_ids_bytes([4, 5])


def test_an_empty_stored_text_is_no_previous_prompt():
    RolePrompt.objects.filter(role="ideator").update(ids="")
    assert role_prompt_bytes(role="ideator") is None
