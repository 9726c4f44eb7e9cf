"""Plain Django views of the goals app: the Whop webhook endpoint."""

from __future__ import annotations

import logging

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from bizagent.webhooks import WebhookVerificationError
from bizagent.whop import WhopError, WhopNotConfiguredError
from goals.services.snapshots import webhook_receive

logger = logging.getLogger(__name__)


@csrf_exempt  # authenticated by its Standard Webhooks signature, not a session
@require_POST
def whop_webhook(request: HttpRequest) -> JsonResponse:
    """``POST /api/v1/goals/webhook/whop``: verify on the raw body, apply once.

    401 on a bad or stale signature, 200 on a replay (so Whop stops retrying), 503 when
    no secret is configured. Messages name what is wrong, never the secret.
    """
    try:
        outcome = webhook_receive(headers=dict(request.headers), body=request.body)
    except WhopNotConfiguredError:
        return JsonResponse({"error": "the Whop webhook is not configured"}, status=503)
    except WebhookVerificationError as exc:
        logger.warning("whop webhook refused: %s", exc)
        return JsonResponse({"error": str(exc)}, status=401)
    except WhopError as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    return JsonResponse(
        {"status": outcome.status, "id": outcome.webhook_id, "type": outcome.event_type}
    )
