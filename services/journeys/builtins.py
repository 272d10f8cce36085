"""The journeys memberflow ships with, as plain definitions: marketers change their delays, texts and
coupons through the API (each change is a new version); these are only the first version of each."""

from __future__ import annotations

from typing import Any

# Coupon templates the built-in journeys hand out (seeded with them, editable like any other).
BUILTIN_COUPONS: list[dict[str, Any]] = [
    {
        "code": "new_member_10",
        "name": "10% off your first order",
        "kind": "percent",
        "value": "10",
        "validity_days": 30,
        "per_member_limit": 1,
    },
    {
        "code": "tier_upgrade_10",
        "name": "10% off: thanks for moving up",
        "kind": "percent",
        "value": "10",
        "validity_days": 30,
        "per_member_limit": None,
    },
    {
        "code": "birthday_20",
        "name": "20% birthday treat",
        "kind": "percent",
        "value": "20",
        "validity_days": 14,
        "per_member_limit": None,
    },
    {
        "code": "win_back_15",
        "name": "15% off: we miss you",
        "kind": "percent",
        "value": "15",
        "validity_days": 14,
        "per_member_limit": None,
    },
    {
        "code": "win_back_25",
        "name": "25% off: come back",
        "kind": "percent",
        "value": "25",
        "validity_days": 14,
        "per_member_limit": None,
    },
    {
        "code": "cart_5",
        "name": "5 off the cart you left",
        "kind": "amount",
        "value": "5.00",
        "validity_days": 2,
        "per_member_limit": None,
    },
]

BUILTIN_JOURNEYS: list[dict[str, Any]] = [
    {
        "kind": "welcome",
        "name": "Welcome",
        "description": "A coupon on sign-up, the brand story a day later, a nudge if no purchase within 7 days.",
        "trigger": {"event": "signed_up"},
        "reentry": "never",
        "exit_on": ["order_completed"],
        # A purchase ends the run only once the welcome (and its coupon) is out: buying at the till right after
        # signing up is the most common case, and it must not cancel the welcome itself.
        "exit_from": "story_delay",
        "steps": [
            {"id": "welcome_message", "send": {"channel": "email", "template": "welcome", "coupon": "new_member_10"}},
            {"id": "story_delay", "wait": {"hours": 24}},
            {"id": "brand_story", "send": {"channel": "email", "template": "brand_story"}},
            {
                "id": "wait_first_purchase",
                "wait_for": {"event": "order_completed", "days": 6},
                "on_event": "done",
                "on_timeout": "reminder",
            },
            {"id": "reminder", "send": {"channel": "sms", "template": "first_purchase_reminder"}},
            {"id": "done", "exit": {}},
        ],
    },
    {
        "kind": "first_purchase",
        "name": "First purchase follow-up",
        "description": "Thanks now, care tips after 7 days, a cross-sell after 14 days unless they bought again.",
        "trigger": {"event": "first_order_completed"},
        "reentry": "never",
        "steps": [
            {"id": "thanks", "send": {"channel": "email", "template": "purchase_thanks"}},
            {"id": "tips_delay", "wait": {"days": 7}},
            {"id": "care_tips", "send": {"channel": "email", "template": "care_tips"}},
            {
                "id": "wait_second_order",
                "wait_for": {"event": "order_completed", "days": 7},
                "on_event": "done",
                "on_timeout": "cross_sell",
            },
            {"id": "cross_sell", "send": {"channel": "email", "template": "cross_sell"}},
            {"id": "done", "exit": {}},
        ],
    },
    {
        "kind": "win_back",
        "name": "Win-back",
        "description": "Members silent for 30 days (high spenders for 90, flagged pre-churn): an offer, then a "
        "stronger one or a staff call.",
        "trigger": {"event": "inactive", "days": 30},
        "reentry": "after_exit",
        "exit_on": ["order_completed"],
        "steps": [
            {
                "id": "high_value",
                "branch": {
                    "if": {"field": "lifetime_spend", "op": "gt", "value": 5000},
                    "then": "flag_pre_churn",
                    "else": "miss_you",
                },
            },
            {"id": "flag_pre_churn", "flag": {"set": "pre_churn"}},
            {"id": "miss_you", "send": {"channel": "email", "template": "we_miss_you", "coupon": "win_back_15"}},
            {
                "id": "wait_return",
                "wait_for": {"event": "order_completed", "days": 7},
                "on_event": "done",
                "on_timeout": "valuable",
            },
            {
                "id": "valuable",
                "branch": {
                    "if": {"field": "tier", "op": "in", "value": ["gold", "silver"]},
                    "then": "call_member",
                    "else": "stronger_offer",
                },
            },
            {
                "id": "call_member",
                "create_task": {
                    "title": "Call this member: silent for weeks after an offer",
                    "assignee_role": "marketer",
                    "due_days": 3,
                },
                "next": "done",
            },
            {
                "id": "stronger_offer",
                "send": {"channel": "email", "template": "win_back_stronger", "coupon": "win_back_25"},
            },
            {"id": "done", "exit": {}},
        ],
    },
    {
        "kind": "tier_upgrade",
        "name": "Tier upgrade",
        "description": "Congratulations with the new benefits and an upgrade coupon.",
        "trigger": {"event": "tier_upgraded"},
        "reentry": "after_exit",
        "steps": [
            {
                "id": "congratulate",
                "send": {"channel": "email", "template": "tier_upgrade", "coupon": "tier_upgrade_10"},
            },
            {"id": "done", "exit": {}},
        ],
    },
    {
        "kind": "tier_at_risk",
        "name": "Tier at risk",
        "description": "Before a review that would lower the tier: what is still needed to keep it.",
        "trigger": {"event": "tier_at_risk"},
        "reentry": "after_exit",
        "steps": [
            {"id": "remind", "send": {"channel": "email", "template": "tier_at_risk"}},
            {"id": "done", "exit": {}},
        ],
    },
    {
        "kind": "birthday",
        "name": "Birthday",
        "description": "A birthday greeting with a coupon; a staff task for high-value members.",
        "trigger": {"event": "birthday"},
        "reentry": "after_exit",
        "steps": [
            {"id": "morning", "wait": {"until_local_time": "09:00"}},
            {"id": "greeting", "send": {"channel": "email", "template": "birthday", "coupon": "birthday_20"}},
            {
                "id": "high_value",
                "branch": {
                    "if": {"field": "tier", "op": "eq", "value": "gold"},
                    "then": "personal_touch",
                    "else": "done",
                },
            },
            {
                "id": "personal_touch",
                "create_task": {"title": "Send a personal birthday note", "assignee_role": "marketer", "due_days": 1},
            },
            {"id": "done", "exit": {}},
        ],
    },
    {
        "kind": "abandoned_cart",
        "name": "Abandoned cart",
        "description": "Two hours after a cart is left, if no order since: an SMS with a short-lived coupon.",
        "trigger": {"event": "cart_abandoned"},
        "reentry": "after_exit",
        "exit_on": ["order_completed"],
        "steps": [
            {"id": "grace", "wait": {"hours": 2}},
            {"id": "nudge", "send": {"channel": "sms", "template": "cart_reminder", "coupon": "cart_5"}},
            {"id": "done", "exit": {}},
        ],
    },
    {
        "kind": "points_expiring",
        "name": "Points expiry reminder",
        "description": "Points expire soon (30 and 7 days before, by default): how many, when, and the rewards "
        "they still pay for.",
        "trigger": {"event": "points_expiring"},
        "reentry": "after_exit",
        "steps": [
            # No wait for the morning: the scan runs at night (UTC), and quiet hours hold the email until the
            # member's day begins.
            {"id": "remind", "send": {"channel": "email", "template": "points_expiring"}},
            {"id": "done", "exit": {}},
        ],
    },
]


def _shipped_before(kind: str, *, without: str) -> dict[str, Any]:
    current = next(journey for journey in BUILTIN_JOURNEYS if journey["kind"] == kind)
    return {key: value for key, value in current.items() if key != without}


# Earlier shipped definitions of a built-in, by kind: a database whose current version is still one of these (no
# marketer changed it) gets today's as a new version when the built-ins are seeded. An edited one is left alone.
SHIPPED_BEFORE: dict[str, list[dict[str, Any]]] = {
    "welcome": [_shipped_before("welcome", without="exit_from")],  # before exit_from (issue 14)
}

# (channel, template) pairs the built-in journeys send; the messaging slice ships each in en and zh-CN.
BUILTIN_TEMPLATES: list[tuple[str, str]] = sorted(
    {
        (step["send"]["channel"], step["send"]["template"])
        for journey in BUILTIN_JOURNEYS
        for step in journey["steps"]
        if "send" in step
    }
)
