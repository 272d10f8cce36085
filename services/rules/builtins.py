"""The rules memberflow ships with: the behaviour-point awards, with the points from settings.points.awards
and the limits the awards always had (check-in and share once per local day, sign-up and profile once,
a review once per review id)."""

from __future__ import annotations

from typing import Any

_LIMITS: dict[str, dict[str, Any]] = {
    "signed_up": {"limit": "once"},
    "checked_in": {"limit": "once_per_day"},
    "profile_completed": {"limit": "once"},
    "review_posted": {"limit": "once_per_value", "limit_by": "review_id"},
    "shared": {"limit": "once_per_day"},
}


def builtin_rules(awards: dict[str, int]) -> list[dict[str, Any]]:
    """Definitions of the award rules (named `award_{event}`) for the events that earn points."""
    rules = []
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
    return rules
