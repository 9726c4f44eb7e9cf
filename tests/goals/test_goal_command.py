"""``manage.py goal "TEXT" [--today D] [--dry-run] [--json]`` (issue 10)."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from decisions.models import AuditEvent
from goals.models import Goal, PlanRevision
from tests.fake_gptoss import FakeReply
from tests.llm_backends import llm_settings_point

pytestmark = pytest.mark.django_db

TODAY = "2026-11-30"


def _run(*args: str) -> str:
    out = io.StringIO()
    call_command("goal", *args, stdout=out)
    return out.getvalue()


def _refused(*args: str) -> tuple[str, CommandError]:
    out = io.StringIO()
    with pytest.raises(CommandError) as caught:
        call_command("goal", *args, stdout=out)
    return out.getvalue(), caught.value


def test_it_prints_the_goal_and_plan_as_json_and_saves_nothing(fake_gptoss, settings):
    llm_settings_point(settings, fake_gptoss)

    document = json.loads(_run("1週間で200万作りたい", "--today", TODAY, "--dry-run", "--json"))

    goal, plan = document["goal"], document["plan"]
    assert goal["metric"] == "revenue" and goal["target_amount"] == "2000000"
    assert goal["currency"] == "JPY"
    assert goal["period"] == {"start": "2026-11-30", "end": "2026-12-06", "days": 7}
    assert goal["fields_from"]["currency"] == "default" and goal["questions"] == []
    assert [n["code"] for n in plan["needs"]] == ["no_arpu"]  # asked, not blocking
    assert plan["daily_target"] == "285715"
    assert {"customers_needed", "arpu", "actions", "budget_estimate", "risks", "decisions"} <= set(
        plan
    )
    assert any("achieved" in a for a in plan["assumptions"])
    assert any("ARPU" in a for a in plan["assumptions"])
    assert Goal.objects.count() == 0 and PlanRevision.objects.count() == 0
    # No gap to fill; the one call is the model choosing the workflows.
    assert [r.prompt_text.count("plan_choice") > 0 for r in fake_gptoss.requests] == [True]


def test_it_prints_a_readable_summary_in_japanese_and_english():
    out = _run("1週間で200万作りたい", "--today", TODAY, "--dry-run")

    assert "1日の目標: 285715 JPY" in out and "Daily target: 285715 JPY" in out
    assert "仮定:" in out and "Assumption:" in out
    assert "Please confirm" in out
    assert Goal.objects.count() == 0


def test_without_an_arpu_a_revenue_goal_is_saved_but_stays_planned_and_says_why():
    out, error = _refused("1週間で200万作りたい", "--today", TODAY)

    goal = Goal.objects.get()
    # No ARPU: no customer-driven workflow can be valued, so nothing would run.
    assert goal.status == Goal.Status.PLANNED
    revision = goal.revisions.get()
    assert revision.number == 1 and revision.document["actions"] == []
    assert "no_actions" in {r["kind"] for r in revision.document["risks"]}
    assert error.returncode == 3 and "not started" in str(error) and "ARPU" in str(error)
    assert f"#{goal.pk}" in out and "Needed: What does a paying customer pay" in out
    assert "Not started, still planned" in out
    assert AuditEvent.objects.filter(action="goals.plan_held").count() == 1


def test_arpu_given_on_the_command_line_is_the_persons_and_plans_the_actions():
    out, error = _refused("1週間で200万作りたい", "--today", TODAY, "--arpu", "5,000", "--json")

    goal = Goal.objects.get()
    assert goal.fields_from["arpu"] == "person"
    document = json.loads(out)
    assert document["goal"]["arpu"] == "5000" and document["plan"]["needs"] == []
    plan = document["plan"]
    assert plan["arpu"] == "5000" and plan["sources"]["arpu"] == "person"
    assert [a["catalogue"] for a in plan["actions"]] == ["trial_onboarding", "cold_outreach"]
    assert not any("ARPU is unknown" in a for a in plan["assumptions"])
    # The shipped workflows are not published yet: a person is asked before they run.
    assert goal.status == Goal.Status.AWAITING_APPROVAL and error.returncode == 3


def test_a_bad_arpu_is_refused_and_saves_nothing():
    _, error = _refused("1週間で200万作りたい", "--today", TODAY, "--arpu", "-5")

    assert error.returncode == 2 and "ARPU must be above zero" in str(error)
    assert Goal.objects.count() == 0 and AuditEvent.objects.count() == 0


def test_a_plan_waiting_for_a_person_exits_3_and_names_the_decision(settings):
    settings.AUTO_EXECUTION_ENABLED = False

    out, error = _refused("1週間で200万作りたい", "--today", TODAY, "--arpu", "5000", "--json")

    goal = Goal.objects.get()
    decision_id = goal.revisions.get().decision_id
    assert error.returncode == 3 and f"decision #{decision_id}" in str(error)
    document = json.loads(out)
    assert document["status"] == Goal.Status.AWAITING_APPROVAL
    assert {d["id"] for d in document["plan"]["decisions"]} == {decision_id}
    assert document["plan"]["decisions"][0]["rule"] == "auto_execution_disabled"


def test_json_without_dry_run_carries_the_saved_id():
    out, _ = _refused("1週間で200万作りたい", "--today", TODAY, "--json")
    document = json.loads(out)

    assert document["id"] == Goal.objects.get().pk


def test_questions_are_printed_and_exit_2_with_nothing_saved():
    out, error = _refused("来期に売上300万", "--today", TODAY)

    assert error.returncode == 2
    assert "Question:" in out and "来期" in out
    assert Goal.objects.count() == 0


def test_a_gap_the_model_fills_is_listed_for_confirmation(fake_gptoss, settings):
    llm_settings_point(settings, fake_gptoss)
    fake_gptoss.enqueue(FakeReply(final=json.dumps({"target_amount": "1500000"})))

    document = json.loads(
        _run("売上を増やしたい、来月までに", "--today", TODAY, "--dry-run", "--json")
    )

    assert document["goal"]["fields_from"]["target_amount"] == "model"
    assert "target_amount" in document["goal"]["confirm"]
    assert len(fake_gptoss.requests) == 2  # the gap, then the choice of workflows
    assert Goal.objects.count() == 0


def test_a_broken_model_answer_is_a_question_not_a_crash(fake_gptoss, settings):
    llm_settings_point(settings, fake_gptoss)
    fake_gptoss.enqueue(FakeReply(final="hmm"), FakeReply(final="hmm again"))

    out, error = _refused("売上を増やしたい、来月までに", "--today", TODAY, "--json")

    assert error.returncode == 2
    codes = {q["code"] for q in json.loads(out)["goal"]["questions"]}
    assert "no_amount" in codes
    assert Goal.objects.count() == 0


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("   ", "empty"),
        ("x" * 10_000_000, "characters"),
        ("売上を-200万円にしたい、1週間で", "negative"),
    ],
)
def test_bad_input_is_one_clear_line_and_exit_2(text, needle):
    out, error = _refused(text, "--today", TODAY)
    assert out == ""  # nothing half-printed before the refusal

    assert error.returncode == 2
    assert "\n" not in str(error) and needle in str(error)
    assert len(str(error)) < 300
    assert Goal.objects.count() == 0


def test_a_bad_today_is_named():
    _, error = _refused("1週間で200万作りたい", "--today", "30/11/2026")

    assert error.returncode == 2 and "--today" in str(error)


def test_a_bad_default_currency_is_named(settings):
    settings.DEFAULT_CURRENCY = "XYZ"

    _, error = _refused("1週間で200万作りたい", "--today", TODAY)

    assert error.returncode == 2 and "BIZAGENT_DEFAULT_CURRENCY" in str(error)
