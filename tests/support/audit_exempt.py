"""State-changing routes that are not a person's change, and why they write no audit entry
(tests/platform/test_audit_trail.py; docs/api.md#audit-log says the same).

A route belongs here only for one of these reasons; a new route gets a recipe (tests/support/audit_recipes_*.py)
unless one of them holds."""

from __future__ import annotations

SHOP = (
    "the shop's traffic: only the integration key (and admin, for support) may call it, it runs at the shop's "
    "rate, and the record of it is the order, event, refund, redemption or coupon row itself"
)
NOTHING_WRITTEN = "writes nothing: it checks, previews, renders or dry-runs what a person is about to save"
CODEC = "writes nothing: it encrypts or decrypts payloads for the Temporal UI"
MEMBERS_OWN = (
    "the member's own choice through their link or phone, not a staff member's: it is kept on the member "
    "(consent source and time) and in the message log"
)

PORTAL = (
    "the member's own action in the portal, not a staff member's: sign-in leaves its record in "
    "portal_sign_in_codes and portal_sessions; a consent change is kept on the member with source `portal` "
    "(and audited as member.consent, tests/portal/test_pages.py)"
)

PORTAL_POINTS = (
    "the member's own action in the portal, not a staff member's: the record of it is the redemption, the "
    "ledger transaction, the member event (check-in, profile completed) or the rule firing it writes"
)

EXEMPT: dict[str, str] = {
    "POST /api/v1/orders": SHOP,
    "POST /api/v1/orders/{order_id}/refunds": SHOP,
    "POST /api/v1/events": SHOP,
    "POST /api/v1/redemptions": SHOP,
    "POST /api/v1/redemptions/{redemption_id}/cancel": SHOP + " (the member withdrawing, through the shop)",
    "POST /api/v1/redemptions/{redemption_id}/shipped": SHOP + " (the warehouse); the workflow audits the status",
    "POST /api/v1/coupons/redeem": SHOP + " (at the till)",
    "POST /api/v1/challenges/{challenge_id}/join": SHOP + " (the member joining in the shop's app; the record is the "
    "member's challenge row)",
    "POST /api/v1/checkouts": SHOP + " (points held at the checkout; the record is the checkout and its hold)",
    "POST /api/v1/checkouts/{checkout_id}/capture": SHOP + " (the checkout row and the ledger posting)",
    "POST /api/v1/checkouts/{checkout_id}/release": SHOP + " (the checkout row and the ledger release)",
    "POST /api/v1/checkouts/quote": NOTHING_WRITTEN,
    "POST /api/v1/sms/inbound": MEMBERS_OWN + " (the SMS provider's webhook)",
    "POST /u/{token}": MEMBERS_OWN + " (one-click unsubscribe)",
    "POST /api/v1/journeys/validate": NOTHING_WRITTEN,
    "POST /api/v1/rules/validate": NOTHING_WRITTEN,
    "POST /api/v1/rules/dry-run": NOTHING_WRITTEN,
    "POST /api/v1/tiers/policy/dry-run": NOTHING_WRITTEN,
    "POST /api/v1/segments/preview": NOTHING_WRITTEN,
    "POST /api/v1/templates/preview": NOTHING_WRITTEN,
    "POST /console/api/segments/preview": NOTHING_WRITTEN,
    "POST /console/api/journeys/validate": NOTHING_WRITTEN,
    "POST /console/api/templates/preview": NOTHING_WRITTEN,
    "POST /console/api/rules/validate": NOTHING_WRITTEN,
    "POST /console/api/rules/dry-run": NOTHING_WRITTEN,
    "POST /console/tiers/dry-run": NOTHING_WRITTEN,
    "POST /codec/decode": CODEC,
    "POST /codec/encode": CODEC,
    "POST /console/codec/decode": CODEC,
    "POST /console/codec/encode": CODEC,
    "POST /console/login": "signing in changes no record: it sets the session cookie",
    "POST /console/logout": "signing out changes no record: it clears the session cookie",
    "POST /portal/sign-in": PORTAL,
    "POST /portal/sign-in/code": PORTAL,
    "POST /portal/sign-out": PORTAL,
    "POST /portal/preferences": PORTAL,
    "POST /portal/rewards/{reward_id}/redeem": PORTAL_POINTS + " (requested_by `portal`)",
    "POST /portal/redemptions/{redemption_id}/withdraw": PORTAL_POINTS + "; the workflow audits the cancellation",
    "POST /portal/challenges/{challenge_id}/join": PORTAL_POINTS + " (here: the member's challenge row)",
    "POST /portal/check-in": PORTAL_POINTS,
    "POST /portal/profile": PORTAL
    + "; a profile change is audited as member.update via portal with the names of the fields, never values",
    "POST /portal/join": (
        "a visitor's own sign-up, not a staff member's: the record of it is the member (with its source and "
        "consent source `portal`) and the sign-in code request"
    ),
    "POST /portal/s/{token}": (
        "the member's own answer to a survey, through the signed link of its invitation: the record is the "
        "survey_answers row (once per send) and the survey_answered member event"
    ),
}
