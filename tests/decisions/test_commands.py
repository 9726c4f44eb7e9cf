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
        (("--args", "{not json"), "--args: not valid JSON (line 1, column 2"),
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


HOSTILE = [
    (("--args", "[" * 100_000 + "]" * 100_000), "--args: JSON nested deeper than 64 levels"),
    (("--args", '{"limit": NaN}'), "--args: NaN is not a JSON number"),
    (("--args", '{"limit": Infinity}'), "--args: Infinity is not a JSON number"),
    (("--args", '{"limit": 1e999}'), "--args: a number is too large to store"),
    (("--args", '{"note": "\\udc80"}'), "--args: value '\\udc80': contains an invalid character"),
    (("--args", '{"a": "' + "x" * 2_000_000 + '"}'), "--args: larger than 1,000,000 bytes"),
    (("--title=bad \udcff byte",), "--title: contains an invalid character"),
    (("--situation=\ud800",), "--situation: contains an invalid character"),
    (("--option=a=\udcff",), "--option: contains an invalid character"),
    (
        ("--due-hours=nan",),
        "--due-hours: expected a number of hours between 0.01 and 8760, got nan",
    ),
    (("--due-hours=inf",), "--due-hours: expected a number of hours between 0.01 and 8760"),
    (("--due-hours=1e12",), "--due-hours: expected a number of hours between 0.01 and 8760"),
    (("--due-hours=-5",), "--due-hours: expected a number of hours between 0.01 and 8760"),
]


@pytest.mark.parametrize(("extra", "message"), HOSTILE, ids=[m[:30] for _, m in HOSTILE])
def test_hostile_input_is_one_clear_line_and_writes_nothing(extra, message):
    with pytest.raises(CommandError) as caught:
        _request(*extra)
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value) and len(str(caught.value)) < 400
    assert Decision.objects.count() == 0 and AuditEvent.objects.count() == 0


def test_a_huge_bad_value_is_quoted_by_a_prefix_only():
    with pytest.raises(CommandError) as caught:
        _request("--option=a=A", "--recommend=" + "r" * 10_000_000)
    assert str(caught.value).startswith("--recommend 'rrrr")
    assert len(str(caught.value)) < 400


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
        "decisions.telegram_outbox: already in place",
        "decisions.telegram_poll: already in place",
    ]
    assert Schedule.objects.filter(name__startswith="decisions.").count() == 4
