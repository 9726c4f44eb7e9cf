"""``manage.py decision_request``: ask people to decide, from the shell or a script."""

from __future__ import annotations

import math

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from bizagent.bounded_json import InputRefused, json_loads_bounded, text_checked
from bizagent.command_language import staff_language
from bizagent.env import value_shown
from decisions.models import DecisionKind, Urgency
from decisions.services import decision_request

# The option that carries each field the service may refuse.
FLAGS = {"action_args": "--args", "options": "--option", "due_at": "--due-hours"}
#: The text flags a person types; each is checked for characters no database stores.
TEXT_FLAGS = ("title", "situation", "impact", "action", "recommend", "requested_by")
#: A decision is due within a year at most; --due-hours=1e12 would overflow a datetime.
DUE_HOURS_MAX = 8760.0
DUE_HOURS_MIN = 0.01
#: Characters of one error shown: a service message may quote a 10 MB value in full.
MESSAGE_CHARS = 300


def _short(message: str) -> str:
    return message if len(message) <= MESSAGE_CHARS else message[:MESSAGE_CHARS] + "…"


def _describe(exc: ValidationError) -> str:
    if not hasattr(exc, "error_dict"):
        return "; ".join(_short(message) for message in exc.messages)
    return "; ".join(
        f"{FLAGS.get(field, '--' + field.replace('_', '-'))}: {_short(message)}"
        for field, messages in exc.message_dict.items()
        for message in messages
    )


class Command(BaseCommand):
    help = (
        "Request a decision. Example: manage.py decision_request --kind budget_overrun "
        '--title "Raise the ads budget" --situation "..." '
        '--action decisions.budget_limit_set --args \'{"budget_id": 1, "limit": "250000"}\''
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--kind", required=True, choices=DecisionKind.values)
        parser.add_argument("--title", required=True)
        parser.add_argument("--situation", required=True)
        parser.add_argument("--impact", default="")
        parser.add_argument("--urgency", default=Urgency.NORMAL, choices=Urgency.values)
        parser.add_argument("--action", required=True, help="a registered action name")
        parser.add_argument(
            "--args",
            dest="action_args",  # "args" is call_command's own
            default="{}",
            help="the action's arguments as a JSON object",
        )
        parser.add_argument(
            "--option",
            action="append",
            default=[],
            metavar="KEY=LABEL",
            help="an option (repeatable); the first is recommended unless --recommend says",
        )
        parser.add_argument("--recommend", default="", help="the key of the recommended option")
        parser.add_argument("--due-hours", type=float, default=None)
        parser.add_argument("--requested-by", default="", help="username of the requester")

    @staff_language
    def handle(self, *args, **o) -> None:
        try:
            for name in TEXT_FLAGS:
                text_checked(o[name], what="--" + name.replace("_", "-"))
            for raw in o["option"]:
                text_checked(raw, what="--option")
            action_args = json_loads_bounded(o["action_args"], what="--args")
        except InputRefused as exc:
            raise CommandError(str(exc)) from None
        due_hours = o["due_hours"]
        if due_hours is not None and not (
            math.isfinite(due_hours) and DUE_HOURS_MIN <= due_hours <= DUE_HOURS_MAX
        ):
            raise CommandError(
                _(
                    "--due-hours: expected a number of hours between %(low)s and %(high)s, "
                    "got %(got)s"
                )
                % {
                    "low": f"{DUE_HOURS_MIN:g}",
                    "high": f"{DUE_HOURS_MAX:g}",
                    "got": repr(due_hours),
                }
            )
        options = []
        for raw in o["option"] or ["approve=Approve"]:
            key, sep, label = raw.partition("=")
            if not sep or not key or not label:
                raise CommandError(
                    _("--option %(value)s: use KEY=LABEL") % {"value": value_shown(raw)}
                )
            options.append({"key": key, "label": label})
        recommend = o["recommend"] or options[0]["key"]
        if recommend not in {option["key"] for option in options}:
            raise CommandError(
                _("--recommend %(value)s is not one of the option keys")
                % {"value": value_shown(recommend)}
            )
        for option in options:
            option["recommended"] = option["key"] == recommend
        requester = None
        if o["requested_by"]:
            requester = get_user_model().objects.filter(username=o["requested_by"]).first()
            if requester is None:
                raise CommandError(
                    _("--requested-by: no user %(value)s")
                    % {"value": value_shown(o["requested_by"])}
                )
        due_at = None
        if due_hours is not None:
            from datetime import timedelta

            from django.utils import timezone

            due_at = timezone.now() + timedelta(hours=due_hours)
        try:
            decision = decision_request(
                kind=o["kind"],
                title=o["title"],
                situation=o["situation"],
                impact=o["impact"],
                urgency=o["urgency"],
                options=options,
                action=o["action"],
                action_args=action_args,
                requested_by=requester,
                due_at=due_at,
            )
        except ValidationError as exc:
            raise CommandError(_describe(exc)) from None
        self.stdout.write(
            _("Decision #%(number)s (%(kind)s) is %(status)s, due %(due)s.")
            % {
                "number": decision.pk,
                "kind": decision.get_kind_display(),
                "status": decision.get_status_display().lower(),
                "due": f"{decision.due_at:%Y-%m-%d %H:%M %Z}",
            }
        )
