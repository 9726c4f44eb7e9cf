"""Stale decisions do not pile up: a newer proposal on the same subject and action
supersedes the pending older ones (recorded, audited, mailed), and an approval whose
premise no longer holds is refused with the reason, on every page that approves."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from decisions.actions import action_register
from decisions.models import AuditEvent, Budget, Decision, DecisionMail
from decisions.services import (
    DecisionNotPending,
    DecisionPremiseFailed,
    decision_apply,
    decision_approve,
)
from decisions.services.links import decision_link_issue, decision_link_token
from tests.concurrency import run_together
from tests.decisions.factories import BudgetFactory
from tests.personas import person_create

# The world a premised action looks at: its "current value".
WORLD: dict[str, float] = {}
RAN: list[dict[str, Any]] = []


def _premise(args: dict[str, Any]) -> str | None:
    now, assumed = WORLD["ratio"], float(args["from"])
    if now != assumed:
        return f"the ratio is now {now:.2f}, not {assumed:.2f} as this decision assumed"
    return None


@action_register("tests.premised", premise=_premise)
def _premised(*, args: dict[str, Any], decision: Any) -> dict[str, Any]:
    RAN.append(dict(args))
    WORLD["ratio"] = float(args["to"])
    return {"ratio": WORLD["ratio"]}


@pytest.fixture(autouse=True)
def world() -> dict[str, float]:
    WORLD.clear()
    WORLD["ratio"] = 0.6
    RAN.clear()
    return WORLD


@pytest.fixture
def ads(db) -> Budget:
    return BudgetFactory(limit="1000")


def _propose(make_decision, subject, n: int, **overrides) -> Decision:
    return make_decision(subject=subject, action_args={"n": n}, **overrides)


# --- supersession --------------------------------------------------------------------


@pytest.mark.django_db
def test_a_newer_proposal_supersedes_the_pending_older_one(make_decision, ads, bob):
    older = _propose(make_decision, ads, 1)
    newer = _propose(make_decision, ads, 2, requested_by=bob)

    older.refresh_from_db()
    assert older.status == Decision.Status.SUPERSEDED
    assert older.superseded_by == newer
    assert older.outcome == f"Superseded by decision #{newer.pk}: the action was not run."
    assert newer.status == Decision.Status.PENDING
    assert list(older.supersedes.all()) == [] and list(newer.supersedes.all()) == [older]
    event = AuditEvent.objects.for_subject(older).get(action="decisions.decision_superseded")
    assert event.actor == bob
    assert event.data["superseded_by"] == newer.pk
    requested = AuditEvent.objects.for_subject(newer).get(action="decisions.decision_requested")
    assert requested.data["supersedes"] == [older.pk]


@pytest.mark.django_db
def test_only_the_same_subject_and_action_supersede(make_decision, ads, alice):
    other = BudgetFactory(name="Cloud", limit="10", currency="USD")
    first = _propose(make_decision, ads, 1)
    assert _propose(make_decision, ads, 1) == first  # the same proposal: the same decision
    on_other_subject = _propose(make_decision, other, 2)
    other_action = make_decision(subject=ads, action="decisions.acknowledge")
    no_subject = make_decision(action_args={"n": 3})

    assert set(Decision.objects.filter(status="pending")) == {
        first,
        on_other_subject,
        other_action,
        no_subject,
    }
    assert not AuditEvent.objects.filter(action="decisions.decision_superseded").exists()


@pytest.mark.django_db
def test_only_pending_ones_are_superseded(make_decision, ads, alice):
    decided = _propose(make_decision, ads, 1)
    decision_approve(decision_id=decided.pk, user=alice)
    _propose(make_decision, ads, 2)
    decided.refresh_from_db()
    assert decided.status == Decision.Status.APPROVED
    assert decided.superseded_by is None


@pytest.mark.django_db
def test_a_superseded_decision_cannot_be_approved(make_decision, ads, alice, recorded):
    older = _propose(make_decision, ads, 1)
    newer = _propose(make_decision, ads, 2)

    with pytest.raises(DecisionNotPending, match=f"superseded by decision #{newer.pk}"):
        decision_approve(decision_id=older.pk, user=alice)
    assert Decision.objects.get(pk=older.pk).status == Decision.Status.SUPERSEDED
    assert recorded == []


@pytest.mark.django_db(transaction=True)
def test_the_approvers_who_were_asked_are_mailed_that_it_was_superseded(
    make_decision, ads, alice, smtp_server, q_sync
):
    older = _propose(make_decision, ads, 1, title="Raise the ads limit")
    person_create("dora", permissions=("decisions.approve_decision",))
    smtp_server.messages.clear()

    newer = _propose(make_decision, ads, 2, title="Raise the ads limit more")

    superseded = [
        mail for mail in smtp_server.messages if mail.message["Subject"].startswith("Decision sup")
    ]
    # alice was asked about the older one; dora joined after and only hears of the newer.
    assert [mail.rcpt_tos for mail in superseded] == [["alice@example.com"]]
    [mail] = superseded
    assert mail.message["Subject"] == (
        "Decision superseded by a newer proposal: Raise the ads limit"
    )
    for body in (mail.part("text/plain"), mail.part("text/html")):
        assert f"superseded by decision #{newer.pk}" in body.replace("<strong>", "").replace(
            "</strong>", ""
        )
    assert DecisionMail.objects.filter(decision=older, event="superseded").count() == 1
    requested = {
        tuple(m.rcpt_tos)
        for m in smtp_server.messages
        if m.message["Subject"] == "Decision needed: Raise the ads limit more"
    }
    assert requested == {("alice@example.com",), ("dora@example.com",)}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_newer_proposals_leave_one_pending(make_decision, ads):
    older = _propose(make_decision, ads, 0)

    results, errors = run_together(lambda i: _propose(make_decision, ads, 10 + i), 4)

    assert errors == [], errors
    pending = Decision.objects.filter(status="pending", subject_id=str(ads.pk))
    assert pending.count() == 1
    superseded = Decision.objects.filter(status="superseded")
    assert superseded.count() == 4
    assert older.pk in {decision.pk for decision in superseded}
    assert all(decision.superseded_by_id for decision in superseded)
    assert AuditEvent.objects.filter(action="decisions.decision_superseded").count() == 4
    assert {decision.pk for decision in results} <= set(
        Decision.objects.values_list("pk", flat=True)
    )


# --- premises --------------------------------------------------------------------------


def _premised(make_decision, *, frm: float, to: float) -> Decision:
    return make_decision(action="tests.premised", action_args={"from": frm, "to": to})


@pytest.mark.django_db
def test_an_approval_whose_premise_no_longer_holds_is_refused(make_decision, alice, world):
    decision = _premised(make_decision, frm=0.6, to=0.3)
    world["ratio"] = 0.31  # something else changed it meanwhile

    with pytest.raises(DecisionPremiseFailed) as refused:
        decision_approve(decision_id=decision.pk, user=alice)

    assert refused.value.messages == [
        f"Decision #{decision.pk} cannot be approved: its premise no longer holds: "
        "the ratio is now 0.31, not 0.60 as this decision assumed."
    ]
    decision.refresh_from_db()
    assert decision.status == Decision.Status.PENDING  # a person may still reject it
    assert not AuditEvent.objects.filter(action="decisions.decision_approved").exists()


@pytest.mark.django_db
def test_the_premise_is_checked_again_before_the_action_runs(make_decision, alice, world):
    decision = _premised(make_decision, frm=0.6, to=0.3)
    decision_approve(decision_id=decision.pk, user=alice)
    world["ratio"] = 0.45  # changed between the approval and the run

    result = decision_apply(decision_id=decision.pk)

    assert result.status == Decision.Status.FAILED
    assert result.outcome == (
        "Refused: the decision's premise no longer holds: "
        "the ratio is now 0.45, not 0.60 as this decision assumed"
    )
    assert RAN == [] and world["ratio"] == 0.45
    failed = AuditEvent.objects.for_subject(decision).get(action="decisions.decision_failed")
    assert "premise no longer holds" in failed.data["reason"]


@pytest.mark.django_db
def test_a_premise_that_holds_lets_the_action_run(make_decision, alice, world):
    decision = _premised(make_decision, frm=0.6, to=0.3)
    decision_approve(decision_id=decision.pk, user=alice)
    assert decision_apply(decision_id=decision.pk).status == Decision.Status.APPLIED
    assert world["ratio"] == 0.3


@pytest.mark.django_db
def test_the_queue_shows_why_the_premise_fails(client, make_decision, alice, world):
    decision = _premised(make_decision, frm=0.6, to=0.3)
    world["ratio"] = 0.31
    client.force_login(alice)

    response = client.post(
        reverse("admin:decisions_decide", args=[decision.pk]),
        {"verdict": "approve", "digest": decision.action_digest},
        HTTP_HX_REQUEST="true",
    )

    assert "the ratio is now 0.31, not 0.60 as this decision assumed" in (response.content.decode())
    assert Decision.objects.get(pk=decision.pk).status == Decision.Status.PENDING


@pytest.mark.django_db
def test_the_link_page_shows_why_the_premise_fails(client, make_decision, alice, world):
    decision = _premised(make_decision, frm=0.6, to=0.3)
    link = decision_link_issue(decision=decision, recipient=alice)
    url = reverse(
        "decisions:link",
        kwargs={"decision_id": decision.pk, "token": decision_link_token(link=link)},
    )
    world["ratio"] = 0.31

    response = client.post(url, {"action": "approve", "option_key": "approve"})

    assert response.status_code == 400
    assert "the ratio is now 0.31, not 0.60 as this decision assumed" in (response.content.decode())
    assert Decision.objects.get(pk=decision.pk).status == Decision.Status.PENDING
