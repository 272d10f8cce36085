"""The rules memberflow ships with: the behaviour-point awards, with the points from settings.points.awards
and the limits the awards always had (check-in and share once per local day, sign-up and profile once,
a review once per review id); and the detractor callbacks (NPS and CSAT), which close the loop on a low score."""

from __future__ import annotations

from typing import Any

_LIMITS: dict[str, dict[str, Any]] = {
    "signed_up": {"limit": "once"},
    "checked_in": {"limit": "once_per_day"},
    "profile_completed": {"limit": "once"},
    "review_posted": {"limit": "once_per_value", "limit_by": "review_id"},
    "shared": {"limit": "once_per_day"},
}


# A detractor (NPS 0-6) gets a call from their account manager: a staff task, due in two days.
DETRACTOR_CALLBACK: dict[str, Any] = {
    "name": "nps_detractor_callback",
    "description": "An NPS answer of 6 or less creates a 'Call back' task for the member's account manager",
    "trigger": {"event": "survey_answered"},
    "conditions": {
        "all": [
            {"field": "event.kind", "op": "eq", "value": "nps"},
            {"field": "event.score", "op": "lte", "value": 6},
        ]
    },
    "actions": [{"create_task": {"title": "Call back", "assignee_role": "account_manager", "due_days": 2}}],
    "priority": 100,
}


# A dissatisfied CSAT answer (1 or 2 of 5, e.g. the survey a closed ticket sends) gets the same call.
CSAT_CALLBACK: dict[str, Any] = {
    "name": "csat_detractor_callback",
    "description": "A CSAT answer of 2 or less creates a 'Call back' task for the member's account manager",
    "trigger": {"event": "survey_answered"},
    "conditions": {
        "all": [
            {"field": "event.kind", "op": "eq", "value": "csat"},
            {"field": "event.score", "op": "lte", "value": 2},
        ]
    },
    "actions": [{"create_task": {"title": "Call back", "assignee_role": "account_manager", "due_days": 2}}],
    "priority": 100,
}


def builtin_rules(awards: dict[str, int]) -> list[dict[str, Any]]:
    """Definitions of the award rules (named `award_{event}`) for the events that earn points, and the
    detractor callbacks."""
    rules: list[dict[str, Any]] = []
    for event, limit in _LIMITS.items():
        points = awards.get(event, 0)
        if points <= 0:
            continue
        rules.append(
            {
                "name": f"award_{event}",
                "description": f"{points} points for {event.replace('_', ' ')} (the behaviour-points default)",
                "trigger": {"event": event},
                "actions": [{"grant_points": {"points": points}}],
                "priority": 100,
                **limit,
            }
        )
    rules.extend((DETRACTOR_CALLBACK, CSAT_CALLBACK))
    return rules
