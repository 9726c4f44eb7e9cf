"""The governance commands, as an operator runs them."""

from __future__ import annotations

import json

import pytest
from django.core.management import CommandError, call_command
from django_q.models import Schedule

from decisions.models import AuditEvent, Decision

pytestmark = pytest.mark.django_db(transaction=True)


def _request(*extra: str) -> str:
    from io import StringIO

    out = StringIO()
    call_command(
        "decision_request",
        "--kind=new_workflow",
        "--title=Start a weekly newsletter workflow",
        "--situation=The ideator wants a Friday newsletter to 300 subscribers.",
        "--action=tests.record",
        *extra,
        stdout=out,
    )
    return out.getvalue()


def test_decision_request_from_the_shell(bob, alice, q_sync, mailoutbox):
    out = _request(
        "--args",
        json.dumps({"workflow": "newsletter"}),
        "--option=create=Create it",
        "--option=reject=Do not",
        "--due-hours=2",
        "--requested-by=bob",
        "--urgency=high",
    )
    decision = Decision.objects.get()
    assert out.startswith(f"Decision #{decision.pk} (New workflow) is pending, due ")
    assert decision.requested_by == bob and decision.urgency == "high"
    assert decision.recommendation == "create"
    assert decision.action_args == {"workflow": "newsletter"}
    assert (decision.due_at - decision.requested_at).total_seconds() == pytest.approx(7200, abs=5)
    assert [m.to for m in mailoutbox] == [["alice@example.com"]]
    # Asked again: the same pending decision, no second mail.
    again = _request("--args", json.dumps({"workflow": "newsletter"}))
    assert again.startswith(f"Decision #{decision.pk} ")
    assert Decision.objects.count() == 1 and len(mailoutbox) == 1


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--args", "{not json"), "--args is not valid JSON"),
        (("--args", "[1, 2]"), "--args: The action's arguments must be a JSON object."),
        (("--option", "no-label"), "--option 'no-label': use KEY=LABEL"),
        (("--option=a=A", "--recommend=b"), "--recommend 'b' is not one of the option keys"),
        (("--requested-by", "nobody"), "--requested-by: no user 'nobody'"),
        (("--option=a=A", "--option=a=B"), "--option: Option keys must be unique: a, a."),
    ],
)
def test_decision_request_errors_name_the_flag(extra, message):
    with pytest.raises(CommandError) as caught:
        _request(*extra)
    assert str(caught.value).startswith(message)
    assert Decision.objects.count() == 0 and AuditEvent.objects.count() == 0


def test_decision_request_refuses_an_unknown_action():
    from io import StringIO

    with pytest.raises(CommandError, match=r"--action: unknown decision action 'shop\.burn'"):
        call_command(
            "decision_request",
            "--kind=other",
            "--title=t",
            "--situation=s",
            "--action=shop.burn",
            stdout=StringIO(),
        )


def test_governance_schedules_command_is_idempotent():
    from io import StringIO

    out = StringIO()
    call_command("governance_schedules", stdout=out)
    assert "decisions.governance_tick: created or updated" in out.getvalue()
    out = StringIO()
    call_command("governance_schedules", stdout=out)
    assert out.getvalue().splitlines() == [
        "decisions.governance_tick: already in place",
        "decisions.sheets_sync: already in place",
    ]
    assert Schedule.objects.filter(name__startswith="decisions.").count() == 2
