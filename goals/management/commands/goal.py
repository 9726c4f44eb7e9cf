"""State a goal in a sentence: see what was understood and its plan, or save both.

    manage.py goal "1週間で200万作りたい" [--today 2026-11-30] [--arpu 5000] [--dry-run] [--json]

``--json`` prints ``{"goal": {...}, "plan": {...}}`` (amounts as major-unit strings,
ISO dates; ``plan.decisions`` lists what a person is asked); otherwise a short summary
in Japanese and English. ``--dry-run`` saves nothing; without it the goal is saved,
planned (the model chooses the workflows) and started: active at once within the
policy, or waiting for a decision. Figures not read from a metric source are
assumptions the output names. A revenue goal with no known ARPU asks for it (question
``no_arpu``): ``--arpu`` gives it (major units); without one its plan has nothing to run,
so the goal is saved but stays planned, and the output says why.

Exit code 2, with nothing saved, when the goal still has questions (来期, no amount)
or the input cannot be a goal (empty, too long, negative): one line says what is wrong.
Exit code 3 when the goal was saved but waits for a person (a decision, or the ARPU its
plan needs to have anything to run; it stays planned), as ``workflow
run`` does).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from goals.checks import default_currency_problem
from goals.parsing import GoalParseError
from goals.planning import PlanError
from goals.services.goals import (
    GoalServiceError,
    Understanding,
    goal_understand,
    understanding_draft,
)
from goals.services.intake import goal_save_and_start, start_line
from goals.services.plans import PlanDraft, PlanStartError

#: Exit code for input the command refuses or cannot act on yet (questions).
EXIT_REFUSED = 2
#: Exit code for a saved goal waiting for a person (the same as ``workflow run``).
EXIT_WAITING = 3


def _today(value: str | None) -> dt.date:
    if value is None:
        return timezone.localdate()
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(
            _("--today must be a date as YYYY-MM-DD, got %(value)s") % {"value": repr(value[:40])},
            returncode=EXIT_REFUSED,
        ) from None


def summary_lines(understanding: Understanding, plan: dict[str, Any] | None) -> list[str]:
    """The readable summary: what was understood, the daily target, actions, risks,
    assumptions and questions, each as a Japanese line and an English line."""
    goal = understanding.to_json()
    # Unknown fields read "?" rather than "None": the questions below say what is missing.
    period = goal["period"] or {"start": "?", "end": "?", "days": "?"}
    goal = {**goal, "target_amount": goal["target_amount"] or "?", "metric": goal["metric"] or "?"}
    unit = goal["currency"] or "人"
    lines = [
        f"目標: {goal['metric']} {goal['target_amount']} {unit} "
        f"({period.get('start')} 〜 {period.get('end')}, {period.get('days')}日間)",
        f"Goal: {goal['metric']} {goal['target_amount']} {goal['currency'] or 'people'} "
        f"from {period.get('start')} to {period.get('end')} ({period.get('days')} days)",
    ]
    if goal["confirm"]:
        fields = ", ".join(goal["confirm"])
        lines += [
            f"確認してください（推定値）: {fields}",
            f"Please confirm (not read from the text): {fields}",
        ]
    if plan is not None:
        lines += [
            f"1日の目標: {plan['daily_target']} {unit}",
            f"Daily target: {plan['daily_target']} {goal['currency'] or 'people'}",
        ]
        for action in plan["actions"]:
            lines += [
                f"施策: {action['workflow']} 1日{action['per_day']}件 (費用 {action['cost']})",
                f"Action: {action['workflow']}, {action['per_day']} a day (cost {action['cost']})",
            ]
        for risk in plan["risks"]:
            lines += [f"リスク: {risk['kind']}", f"Risk: {risk['message']}"]
        for assumption in plan["assumptions"]:
            lines += [f"仮定: {assumption}", f"Assumption: {assumption}"]
        for need in plan.get("needs") or []:
            lines += [f"必要: {need['field']} ({need['code']})", f"Needed: {need['text']}"]
    if goal.get("arpu"):
        lines += [f"ARPU（入力値）: {goal['arpu']}", f"ARPU (given): {goal['arpu']}"]
    for question in goal["questions"]:
        lines += [f"質問: {question['code']}", f"Question: {question['text']}"]
    return lines


class Command(BaseCommand):
    help = "Understand a goal sentence and plan it; --dry-run saves nothing."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("text", help='The goal, such as "1週間で200万作りたい".')
        parser.add_argument("--today", help="The day to plan from (YYYY-MM-DD); default today.")
        parser.add_argument(
            "--arpu",
            help="What a paying customer pays a month, in the goal's currency (e.g. 5000): "
            "needed by a revenue goal when no snapshots give it.",
        )
        parser.add_argument("--dry-run", action="store_true", help="Print; save nothing.")
        parser.add_argument("--json", action="store_true", help="Print the goal and plan as JSON.")

    def handle(self, *args: Any, **options: Any) -> None:
        # People read the lines and the errors: BIZAGENT_LANGUAGE (see
        # bizagent.command_language). Machines read --json: its text is left as it is.
        if options["json"]:
            self.handle_goal(**options)
            return
        with translation.override(settings.LANGUAGE_CODE):
            self.handle_goal(**options)

    def handle_goal(self, **options: Any) -> None:
        """Understand, plan, and (unless a dry run) save and start the goal."""
        problem = default_currency_problem()
        if problem:
            raise CommandError(problem, returncode=EXIT_REFUSED)
        today = _today(options["today"])
        try:
            understanding = goal_understand(
                text=options["text"],
                today=today,
                default_currency=settings.DEFAULT_CURRENCY,
                arpu=options["arpu"],
            )
        except GoalParseError as exc:
            raise CommandError(exc.message, returncode=EXIT_REFUSED) from None
        plan: dict[str, Any] | None = None
        draft: PlanDraft | None = None
        if understanding.ready:
            try:
                # Before any transaction: the model chooses the workflows here.
                draft = understanding_draft(understanding=understanding, today=today)
            except (PlanError, GoalServiceError) as exc:
                raise CommandError(str(exc), returncode=EXIT_REFUSED) from None
            plan = draft.document
        if not understanding.ready or options["dry_run"]:
            self._print(understanding, plan, as_json=options["json"], goal_id=None)
            if not understanding.ready:
                codes = ", ".join(q.code for q in understanding.questions)
                raise CommandError(
                    _("the goal has questions (%(codes)s); nothing was saved") % {"codes": codes},
                    returncode=EXIT_REFUSED,
                )
            return
        assert draft is not None
        try:
            with transaction.atomic():
                saved = goal_save_and_start(
                    understanding=understanding, draft=draft, today=today, actor=None
                )
        except (PlanError, GoalServiceError, PlanStartError) as exc:
            raise CommandError(str(exc), returncode=EXIT_REFUSED) from None
        assert saved.goal is not None
        self._print(
            understanding,
            saved.plan,
            as_json=options["json"],
            goal_id=saved.goal.pk,
            status=saved.goal.status,
        )
        if saved.decision_id is not None:
            if not options["json"]:
                self.stdout.write(start_line(saved.goal.status, saved.decision_id))
            raise CommandError(
                _("goal #%(goal)s waits for decision #%(decision)s")
                % {"goal": saved.goal.pk, "decision": saved.decision_id},
                returncode=EXIT_WAITING,
            )
        if saved.held:
            if not options["json"]:
                self.stdout.write(start_line(saved.goal.status, None, saved.held))
            raise CommandError(
                _("goal #%(goal)s is saved but not started: %(why)s")
                % {"goal": saved.goal.pk, "why": saved.held},
                returncode=EXIT_WAITING,
            )
        if not options["json"]:
            self.stdout.write(start_line(saved.goal.status, None))

    def _print(
        self,
        understanding: Understanding,
        plan: dict[str, Any] | None,
        *,
        as_json: bool,
        goal_id: int | None,
        status: str | None = None,
    ) -> None:
        """Print the goal and plan; ``goal_id`` is the saved goal's id (None: not saved)."""
        if as_json:
            document: dict[str, Any] = {"goal": understanding.to_json(), "plan": plan}
            if goal_id is not None:
                document["id"] = goal_id
                document["status"] = status
            self.stdout.write(json.dumps(document, ensure_ascii=False, indent=2))
            return
        for line in summary_lines(understanding, plan):
            self.stdout.write(line)
        if goal_id is not None:
            self.stdout.write(f"目標 #{goal_id} を保存しました / Saved goal #{goal_id}")
