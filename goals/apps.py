from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

AUDIT_ACTIONS = {
    "goals.loop_started": "The agent loop was started",
    "goals.loop_stopped": "The agent loop was stopped",
    "goals.loop_paused": "The agent loop was paused",
    "goals.loop_resumed": "The agent loop was resumed",
    "goals.loop_backing_off": "The agent loop is backing off (model server trouble)",
    "goals.loop_recovered": "The agent loop recovered",
    "goals.loop_stalled": "The loop repeats itself: a shake-up was queued",
    "goals.loop_unstalled": "A shake-up ran: the loop no longer counts as stalled",
    "goals.strategy_changed": "The loop's strategy (explore ratio, focus) changed",
    "goals.task_blocked": "A task was blocked and needs a person",
    "goals.task_failed": "A task failed for good",
    "goals.task_lease_expired": "A task's lease expired and it went back to the queue",
    "goals.task_requeued": "A task was put back in the queue",
    "goals.task_retried": "A person retried a blocked task",
    "goals.task_dropped": "A person dropped a blocked task",
    "goals.loop_slot_reclaimed": "A loop slot whose worker died was taken over",
    "goals.token_budget_extended": "More model tokens were granted for a day",
    "goals.goal_created": "A goal was stated and saved as a draft",
    "goals.goal_planned": "A goal's first plan (by the rules) was made",
    "goals.snapshot_recorded": "A metric reading was recorded",
    "goals.snapshot_changed": "A metric reading was corrected to a new value",
    "goals.plan_started": "A goal's plan started within the policy (no decision needed)",
    "goals.plan_awaiting": "A goal's plan crossed a policy line and waits for a decision",
    "goals.plan_held": "A goal's plan has no action to run: the goal stays planned",
    "goals.plan_approved": "A person approved a goal's plan: the goal is active",
    "goals.plan_refused": "A goal's plan decision ended without approval: back to planned",
    "goals.goal_run_pending": "A goal's workflow run for the day was claimed (before its run)",
    "goals.goal_run_started": "A goal's workflow run was started",
    "goals.goal_run_succeeded": "A goal's workflow run succeeded (spend recorded)",
    "goals.goal_run_failed": "A goal's workflow run failed",
    "goals.goal_run_skipped": "A goal's action was skipped (no published workflow)",
    "goals.goal_run_gave_up": "A goal's action failed its last attempt and stops for the day",
    "goals.goal_closed": "A goal closed as achieved or missed",
    "goals.goal_monitored": "The monitor read a goal's progress and forecast for the day",
    "goals.goal_cancelled": "A person cancelled a goal",
    "goals.anomaly_asked": "A sustained anomaly in a goal's figures was put to a person",
    "goals.anomaly_noted": "A sustained anomaly in a goal's figures was within policy",
    "goals.plan_adjusted": "A goal's volumes were adjusted within the automatic mandate",
    "goals.plan_adjustment_asked": "A volume adjustment beyond the mandate was put to a person",
    "goals.plan_adjustment_approved": "A person approved a goal's volume adjustment",
    "goals.plan_replanned": "A person re-planned or paused a goal",
    "goals.catalogue_item_changed": "A catalogue item's yield, cost, cap or enabled flag changed",
    "goals.report_made": "A goal report (daily, weekly or final) was made",
    "goals.report_emailed": "A goal report was emailed",
    "goals.report_not_emailed": "A goal report could not be emailed: nobody has an address",
}


class GoalsConfig(AppConfig):
    name = "goals"
    verbose_name = _("Goals and the agent loop")

    def ready(self) -> None:
        from decisions.audit import audit_actions_register

        audit_actions_register(AUDIT_ACTIONS)
        # Registers the handlers approved goals decisions run, and the start-up check of
        # the loop's settings (goals.E001).
        # ...and the presenters that word its decisions for people (goals.presenters).
        from goals import actions, adjustments, checks, presenters  # noqa: F401

        # A theme switch pauses a working loop, wherever it is made (newtheme, the admin).
        from goals.services.loop import loop_paused_for_theme_switch
        from ideas.services import theme_switch_guard_register

        theme_switch_guard_register(loop_paused_for_theme_switch)

        # The goal endpoints join the one API from here, not from workflows: goals may
        # import workflows, never the reverse (tests/test_dependency_rules.py). ready()
        # runs before the URLconf is first read, so the routes are in place when
        # ``api.urls`` is built; a registry in workflows would be a second mechanism
        # doing what this one line does.
        from goals.api import router
        from workflows.api import api

        api.add_router("", router)
