"""Who may call what: one access rule for every (method, path template) the app serves, in one table.

tests/platform/test_role_matrix.py checks this table against the running app from both sides: every route of
`app.routes` (included routers, the console, mounts) must have a rule here and every rule must name a route,
and every route is called as every role, without credentials and with a revoked key, to see that the app
answers as the rule says. docs/api.md's "Who can call what" table is rendered from RULES, and the test fails
when it is out of date: rewrite it with `.venv/bin/python -m tests.platform.role_matrix`.

Adding a route means adding one line to RULES. Admin keys may call everything (the app's rule, see
api.deps.ApiKeyAuth and api.console.auth.pages_for), so every helper below adds admin to the roles it is given;
the matrix still calls every route as admin to prove it."""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from services.platform.api_keys import Role

ADMIN, MARKETER, APPROVER, OPS, INTEGRATION = Role.ADMIN, Role.MARKETER, Role.APPROVER, Role.OPS, Role.INTEGRATION
CONSOLE_ROLES = (MARKETER, APPROVER, OPS)  # the roles that can sign into the console (and admin)


class Door(StrEnum):
    """How a route is reached, which decides what a refusal looks like."""

    PUBLIC = "public"  # no credentials: everyone gets an answer that is not 401/403
    API_KEY = "API key"  # Authorization: Bearer; 401 without or with a revoked key, 403 insufficient_role
    CONSOLE_PAGE = "console page"  # the session cookie; the sign-in redirect without, the 403 page for a role
    CONSOLE_JSON = "console JSON"  # the session cookie; 401 and 403 in the error envelope
    MEMBER = "member session"  # the portal's own cookie: no staff key or console session opens it (sign-in redirect)


@dataclass(frozen=True)
class Access:
    door: Door
    roles: frozenset[Role]

    def allows(self, role: Role) -> bool:
        return self.door is Door.PUBLIC or role in self.roles

    def describe(self) -> str:
        if self.door is Door.PUBLIC:
            return "anyone"
        if self.door is Door.MEMBER:
            return "the signed-in member (portal)"
        if set(self.roles) == set(Role):
            return "any key"
        return ", ".join(role.value for role in Role if role in self.roles)


def _with_admin(roles: tuple[Role, ...]) -> frozenset[Role]:
    return frozenset((ADMIN, *roles))


PUBLIC = Access(Door.PUBLIC, frozenset())
MEMBER = Access(Door.MEMBER, frozenset())  # a member's portal page: tests/portal checks it with a member session


def key(*roles: Role) -> Access:
    """An API key of one of `roles` (or admin)."""
    return Access(Door.API_KEY, _with_admin(roles))


def page(*roles: Role) -> Access:
    """A console page for a session of one of `roles` (or admin)."""
    return Access(Door.CONSOLE_PAGE, _with_admin(roles))


def console_json(*roles: Role) -> Access:
    """A console JSON call (the builders, the codec's browser door) for a session of one of `roles` (or admin)."""
    return Access(Door.CONSOLE_JSON, _with_admin(roles))


ANY_KEY = key(*Role)
WRITER = key(INTEGRATION, MARKETER)
INSIGHT = key(MARKETER, APPROVER, OPS)
TICKETS = key(INTEGRATION, MARKETER, APPROVER, OPS)  # api.routes.tickets.TicketKey
SIGNED_IN = page(*CONSOLE_ROLES)

# fmt: off
RULES: dict[str, Access] = {
    # Documentation, probes and metrics (no key: /metrics is for the scraper, kept off the public internet)
    "GET /openapi.json": PUBLIC,
    "GET /docs": PUBLIC,
    "GET /docs/oauth2-redirect": PUBLIC,
    "GET /redoc": PUBLIC,
    "GET /healthz": PUBLIC,
    "GET /readyz": PUBLIC,
    "GET /metrics": PUBLIC,
    "GET /": PUBLIC,
    # Unsubscribe links in email: the signed token is the credential
    "GET /u/{token}": PUBLIC,
    "POST /u/{token}": PUBLIC,
    # API keys, audit, operations
    "POST /api/v1/keys": key(),
    "GET /api/v1/keys": key(),
    "DELETE /api/v1/keys/{key_id}": key(),
    "GET /api/v1/audit": key(OPS),
    "GET /api/v1/outbox/parked": key(OPS),
    "POST /api/v1/outbox/{row_id}/retry": key(OPS),
    "GET /api/v1/ops/ledger/check": key(OPS),
    "POST /codec/decode": key(OPS),
    "POST /codec/encode": key(OPS),
    # Members, privacy, points
    "POST /api/v1/members": WRITER,
    "GET /api/v1/members": ANY_KEY,
    "GET /api/v1/members/{member_id}": ANY_KEY,
    "PATCH /api/v1/members/{member_id}": WRITER,
    "DELETE /api/v1/members/{member_id}": key(),
    "GET /api/v1/members/{member_id}/export": key(),
    "GET /api/v1/members/{member_id}/points": ANY_KEY,
    "GET /api/v1/members/{member_id}/ledger": ANY_KEY,
    "POST /api/v1/members/{member_id}/points/adjustments": key(),
    "GET /api/v1/members/{member_id}/coupons": ANY_KEY,
    "GET /api/v1/members/{member_id}/journeys": ANY_KEY,
    "GET /api/v1/member-fields": ANY_KEY,
    "POST /api/v1/member-fields": key(),
    "GET /api/v1/member-fields/{field_key}": ANY_KEY,
    "PATCH /api/v1/member-fields/{field_key}": key(),
    "DELETE /api/v1/member-fields/{field_key}": key(),
    # Orders and events from the shop
    "POST /api/v1/orders": key(INTEGRATION),
    "GET /api/v1/orders/{order_id}": ANY_KEY,
    "POST /api/v1/orders/{order_id}/refunds": key(INTEGRATION),
    "POST /api/v1/events": key(INTEGRATION),
    "POST /api/v1/sms/inbound": key(INTEGRATION),
    # Imports
    "POST /api/v1/imports": WRITER,
    "GET /api/v1/imports": WRITER,
    "GET /api/v1/imports/{import_id}": WRITER,
    "POST /api/v1/imports/{import_id}/files": WRITER,
    "POST /api/v1/imports/{import_id}/start": WRITER,
    "GET /api/v1/imports/{import_id}/errors": WRITER,
    # Journeys and staff tasks
    "GET /api/v1/journeys": ANY_KEY,
    "POST /api/v1/journeys": key(MARKETER),
    "POST /api/v1/journeys/validate": key(MARKETER),
    "GET /api/v1/journeys/{kind}": ANY_KEY,
    "PUT /api/v1/journeys/{kind}": key(MARKETER),
    "GET /api/v1/journeys/{kind}/versions/{version}": ANY_KEY,
    "POST /api/v1/journeys/{kind}/enable": key(MARKETER),
    "POST /api/v1/journeys/{kind}/disable": key(MARKETER),
    "GET /api/v1/journeys/{kind}/runs": ANY_KEY,
    "POST /api/v1/journeys/runs/{run_id}/cancel": key(MARKETER),
    "GET /api/v1/tasks": ANY_KEY,
    "POST /api/v1/tasks/{task_id}/done": ANY_KEY,
    "POST /api/v1/tasks/{task_id}/reopen": ANY_KEY,
    # Service tickets: the helpdesk (integration) and every staff role work them; an admin adds queues
    "POST /api/v1/tickets": TICKETS,
    "GET /api/v1/tickets": TICKETS,
    "GET /api/v1/tickets/{ticket_id}": TICKETS,
    "POST /api/v1/tickets/{ticket_id}/replies": TICKETS,
    "POST /api/v1/tickets/{ticket_id}/status": TICKETS,
    "POST /api/v1/tickets/{ticket_id}/assign": TICKETS,
    "POST /api/v1/tickets/{ticket_id}/close": TICKETS,
    "POST /api/v1/tickets/{ticket_id}/reopen": TICKETS,
    "GET /api/v1/ticket-queues": TICKETS,
    "POST /api/v1/ticket-queues": key(),
    # Paid plans: an admin defines them, every key reads them; the shop (or an admin) cancels a membership
    "POST /api/v1/plans": key(),
    "GET /api/v1/plans": ANY_KEY,
    "GET /api/v1/plans/{plan_id}": ANY_KEY,
    "PUT /api/v1/plans/{plan_id}": key(),
    "GET /api/v1/memberships/{membership_id}": ANY_KEY,
    "POST /api/v1/memberships/{membership_id}/cancel": key(INTEGRATION),
    "GET /api/v1/members/{member_id}/plan": ANY_KEY,
    "GET /api/v1/kpis/plans": INSIGHT,
    # Challenges: marketers define them, every key reads them, the shop joins members (docs/loyalty.md)
    "GET /api/v1/challenges": ANY_KEY,
    "POST /api/v1/challenges": key(MARKETER),
    "GET /api/v1/challenges/{challenge_id}": ANY_KEY,
    "PUT /api/v1/challenges/{challenge_id}": key(MARKETER),
    "POST /api/v1/challenges/{challenge_id}/join": key(INTEGRATION),
    "GET /api/v1/members/{member_id}/challenges": ANY_KEY,
    "GET /api/v1/kpis/checkouts": INSIGHT,
    # Surveys: marketers define them, every key reads them (docs/care.md#surveys-and-nps)
    "GET /api/v1/surveys": ANY_KEY,
    "POST /api/v1/surveys": key(MARKETER),
    "GET /api/v1/surveys/{survey_key}": ANY_KEY,
    "PATCH /api/v1/surveys/{survey_key}": key(MARKETER),
    "DELETE /api/v1/surveys/{survey_key}": key(MARKETER),
    # Approvals, rewards, redemptions, coupons, tiers
    "GET /api/v1/approvals": key(APPROVER),
    "GET /api/v1/approvals/{approval_id}": key(APPROVER),
    "POST /api/v1/approvals/{approval_id}/approve": key(APPROVER),
    "POST /api/v1/approvals/{approval_id}/reject": key(APPROVER),
    "POST /api/v1/rewards": key(MARKETER),
    "GET /api/v1/rewards": ANY_KEY,
    "GET /api/v1/rewards/{reward_id}": ANY_KEY,
    "PATCH /api/v1/rewards/{reward_id}": key(MARKETER),
    "POST /api/v1/redemptions": key(INTEGRATION),
    "GET /api/v1/redemptions/{redemption_id}": ANY_KEY,
    "POST /api/v1/redemptions/{redemption_id}/cancel": key(INTEGRATION),
    "POST /api/v1/redemptions/{redemption_id}/shipped": key(INTEGRATION),
    "POST /api/v1/coupon-templates": key(MARKETER),
    "GET /api/v1/coupon-templates": ANY_KEY,
    "POST /api/v1/coupons": WRITER,
    "POST /api/v1/coupons/redeem": key(INTEGRATION),
    "GET /api/v1/tiers": ANY_KEY,
    "PUT /api/v1/tiers": key(),
    "GET /api/v1/tiers/policy": ANY_KEY,
    "PUT /api/v1/tiers/policy": key(),
    "POST /api/v1/tiers/policy/dry-run": key(MARKETER),
    # Points at checkout: the shop quotes, holds, captures and releases; admins set the rate (docs/loyalty.md)
    "GET /api/v1/checkout-settings": ANY_KEY,
    "PUT /api/v1/checkout-settings": key(),
    "POST /api/v1/checkouts/quote": key(INTEGRATION),
    "POST /api/v1/checkouts": key(INTEGRATION),
    "GET /api/v1/checkouts/{checkout_id}": key(INTEGRATION),
    "POST /api/v1/checkouts/{checkout_id}/capture": key(INTEGRATION),
    "POST /api/v1/checkouts/{checkout_id}/release": key(INTEGRATION),
    # Segments, campaigns, rules
    "GET /api/v1/segments": ANY_KEY,
    "POST /api/v1/segments": key(MARKETER),
    "GET /api/v1/segments/rfm": ANY_KEY,
    "POST /api/v1/segments/preview": key(MARKETER),
    "GET /api/v1/segments/{segment_id}": ANY_KEY,
    "PUT /api/v1/segments/{segment_id}": key(MARKETER),
    "DELETE /api/v1/segments/{segment_id}": key(MARKETER),
    "POST /api/v1/campaigns": key(MARKETER),
    "GET /api/v1/campaigns": ANY_KEY,
    "GET /api/v1/campaigns/{campaign_id}": ANY_KEY,
    "POST /api/v1/campaigns/{campaign_id}/start": key(MARKETER),
    "POST /api/v1/campaigns/{campaign_id}/pause": key(MARKETER),
    "POST /api/v1/campaigns/{campaign_id}/resume": key(MARKETER),
    "POST /api/v1/campaigns/{campaign_id}/cancel": key(MARKETER),
    "GET /api/v1/campaigns/{campaign_id}/results": ANY_KEY,
    "GET /api/v1/campaigns/{campaign_id}/members": ANY_KEY,
    "GET /api/v1/rules": ANY_KEY,
    "POST /api/v1/rules": key(MARKETER),
    "POST /api/v1/rules/validate": key(MARKETER),
    "POST /api/v1/rules/dry-run": key(MARKETER),
    "GET /api/v1/rules/{rule_id}": ANY_KEY,
    "PUT /api/v1/rules/{rule_id}": key(MARKETER),
    "GET /api/v1/rules/{rule_id}/versions": ANY_KEY,
    "GET /api/v1/rules/{rule_id}/versions/{version}": ANY_KEY,
    "POST /api/v1/rules/{rule_id}/enable": key(MARKETER),
    "POST /api/v1/rules/{rule_id}/disable": key(MARKETER),
    "GET /api/v1/rules/{rule_id}/firings": ANY_KEY,
    # KPIs, messages, templates
    "GET /api/v1/kpis/tiers": INSIGHT,
    "GET /api/v1/kpis/members": INSIGHT,
    "GET /api/v1/kpis/purchases": INSIGHT,
    "GET /api/v1/kpis/clv": INSIGHT,
    "GET /api/v1/kpis/retention": INSIGHT,
    "GET /api/v1/kpis/points": INSIGHT,
    "GET /api/v1/kpis/coupons": INSIGHT,
    "GET /api/v1/kpis/journeys": INSIGHT,
    "GET /api/v1/kpis/messages": INSIGHT,
    "GET /api/v1/kpis/sources": INSIGHT,
    "GET /api/v1/kpis/referrals": INSIGHT,
    "GET /api/v1/kpis/care": INSIGHT,
    "GET /api/v1/kpis/care/terms": INSIGHT,
    "GET /api/v1/kpis/surveys": INSIGHT,
    "GET /api/v1/messages": ANY_KEY,
    "POST /api/v1/messages/{message_id}/resend": key(OPS),
    "GET /api/v1/templates": ANY_KEY,
    "PUT /api/v1/templates/{key}/{channel}/{locale}": key(MARKETER),
    "POST /api/v1/templates/preview": key(MARKETER),
    # The console: sign-in, static files, the codec's browser door, the builders' catalog
    "GET /console/login": PUBLIC,
    "POST /console/login": PUBLIC,
    "POST /console/logout": SIGNED_IN,
    "GET /console/static/{path}": PUBLIC,
    "POST /console/codec/decode": console_json(OPS),
    "POST /console/codec/encode": console_json(OPS),
    "GET /console/api/catalog": console_json(*CONSOLE_ROLES),
    "GET /console/keys": page(),
    "GET /console/checkout": page(),
    "POST /console/checkout": page(),
    "POST /console/checkout/expiry-reminders": page(),
    "GET /console/sources": page(MARKETER),
    "GET /console/referrals": page(MARKETER),
    "POST /console/referrals": page(MARKETER),
    "POST /console/sources": page(MARKETER),
    "GET /console/sources/{code}/qr.{kind}": page(MARKETER),
    "POST /console/keys": page(),
    "POST /console/keys/{key_id}/revoke": page(),
    # The member portal: sign-in is open, the rest needs the member's own session (docs/portal.md)
    "GET /portal/sign-in": PUBLIC,
    "POST /portal/sign-in": PUBLIC,
    "GET /portal/sign-in/code": PUBLIC,
    "POST /portal/sign-in/code": PUBLIC,
    "GET /portal/l/{token}": PUBLIC,
    "GET /portal/lang/{locale}": PUBLIC,
    "GET /portal/static/{path}": PUBLIC,
    "GET /portal/join": PUBLIC,
    "POST /portal/join": PUBLIC,
    # A survey's answer page: the signed link in the invitation is the credential (one send, no sign-in)
    "GET /portal/s/{token}": PUBLIC,
    "POST /portal/s/{token}": PUBLIC,
    "GET /portal": MEMBER,
    "GET /portal/rewards": MEMBER,
    "POST /portal/rewards/{reward_id}/redeem": MEMBER,
    "GET /portal/redemptions/{redemption_id}": MEMBER,
    "POST /portal/redemptions/{redemption_id}/withdraw": MEMBER,
    "GET /portal/check-in": MEMBER,
    "POST /portal/check-in": MEMBER,
    "GET /portal/challenges": MEMBER,
    "POST /portal/challenges/{challenge_id}/join": MEMBER,
    "GET /portal/profile": MEMBER,
    "POST /portal/profile": MEMBER,
    "GET /portal/points": MEMBER,
    "GET /portal/wallet": MEMBER,
    "GET /portal/wallet/{coupon_id}": MEMBER,
    "GET /portal/preferences": MEMBER,
    "POST /portal/preferences": MEMBER,
    "POST /portal/sign-out": MEMBER,
    # Console pages, by the page they belong to (docs/console.md#roles)
    "GET /console": page(MARKETER, OPS),
    "GET /console/tiers": page(MARKETER),
    "POST /console/tiers/dry-run": page(MARKETER),
    "POST /console/tiers/policy": page(),
    "POST /console/tiers/ladder": page(),
    "GET /console/plans": page(),
    "POST /console/plans": page(),
    "GET /console/plans/{plan_id}": page(),
    "POST /console/plans/{plan_id}": page(),
    "GET /console/members": page(MARKETER, APPROVER, OPS),
    "GET /console/members/{member_id}": page(MARKETER, APPROVER, OPS),
    "GET /console/members/{member_id}/erase": page(),
    "POST /console/members/{member_id}/erase": page(),
    "GET /console/inbox": page(APPROVER),
    "POST /console/inbox/{approval_id}/{action}": page(APPROVER),
    "GET /console/campaigns": page(MARKETER),
    "POST /console/campaigns": page(MARKETER),
    "GET /console/campaigns/new": page(MARKETER),
    "GET /console/campaigns/{campaign_id}": page(MARKETER),
    "GET /console/campaigns/{campaign_id}/progress": page(MARKETER),
    "POST /console/campaigns/{campaign_id}/{action}": page(MARKETER),
    "GET /console/segments": page(MARKETER),
    "GET /console/segments/new": page(MARKETER),
    "GET /console/segments/{segment_id}": page(MARKETER),
    "GET /console/segments/{segment_id}/count": page(MARKETER),
    "POST /console/api/segments": console_json(MARKETER),
    "POST /console/api/segments/preview": console_json(MARKETER),
    "PUT /console/api/segments/{segment_id}": console_json(MARKETER),
    "DELETE /console/api/segments/{segment_id}": console_json(MARKETER),
    "GET /console/journeys": page(MARKETER),
    "GET /console/journeys/new": page(MARKETER),
    "GET /console/journeys/{kind}": page(MARKETER),
    "POST /console/journeys/{kind}": page(MARKETER),
    "GET /console/journeys/{kind}/steps/{step}": page(MARKETER),
    "POST /console/journeys/{kind}/{switch}": page(MARKETER),
    "POST /console/api/journeys": console_json(MARKETER),
    "POST /console/api/journeys/validate": console_json(MARKETER),
    "PUT /console/api/journeys/{kind}/draft": console_json(MARKETER),
    "DELETE /console/api/journeys/{kind}/draft": console_json(MARKETER),
    "POST /console/api/journeys/{kind}/versions": console_json(MARKETER),
    "GET /console/api/journeys/{kind}/diff": console_json(MARKETER),
    "POST /console/api/templates/preview": console_json(MARKETER),
    "GET /console/rules": page(MARKETER),
    "GET /console/rules/new": page(MARKETER),
    "POST /console/rules/new": page(MARKETER),
    "GET /console/rules/{rule_id}": page(MARKETER),
    "POST /console/rules/{rule_id}": page(MARKETER),
    "POST /console/rules/{rule_id}/{switch}": page(MARKETER),
    "POST /console/api/rules": console_json(MARKETER),
    "POST /console/api/rules/validate": console_json(MARKETER),
    "POST /console/api/rules/dry-run": console_json(MARKETER),
    "PUT /console/api/rules/{rule_id}": console_json(MARKETER),
    "GET /console/api/rules/members": console_json(MARKETER),
    "GET /console/challenges": page(MARKETER),
    "POST /console/challenges": page(MARKETER),
    "GET /console/challenges/{challenge_id}": page(MARKETER),
    "POST /console/challenges/{challenge_id}": page(MARKETER),
    "GET /console/surveys": page(MARKETER),
    "POST /console/surveys": page(MARKETER),
    "GET /console/surveys/{key}": page(MARKETER),
    "POST /console/surveys/{key}": page(MARKETER),
    "GET /console/messages": page(MARKETER, OPS),
    "GET /console/tasks": page(OPS),
    "POST /console/tasks/{task_id}": page(OPS),
    "GET /console/tickets": page(OPS),
    "GET /console/tickets/queues/{code}": page(OPS),
    "GET /console/tickets/follow-up": page(OPS),
    "GET /console/tickets/new": page(OPS),
    "POST /console/tickets/new": page(OPS),
    "GET /console/tickets/{ticket_id}": page(OPS),
    "POST /console/tickets/{ticket_id}/{action}": page(OPS),
    "GET /console/fields": page(),
    "POST /console/fields": page(),
    "GET /console/fields/{key}": page(),
    "POST /console/fields/{key}": page(),
    "POST /console/fields/{key}/delete": page(),
    "GET /console/imports": page(MARKETER),
    "GET /console/imports/{import_id}": page(MARKETER),
    "GET /console/imports/{import_id}/errors.csv": page(MARKETER),
}
# fmt: on


def split(route: str) -> tuple[str, str]:
    """'GET /api/v1/members' -> ('GET', '/api/v1/members')."""
    method, _, path = route.partition(" ")
    return method, path


# docs/api.md's generated section lies between these two lines.
DOCS = Path(__file__).resolve().parents[2] / "docs" / "api.md"
BEGIN = "<!-- role-matrix: generated from tests/platform/role_matrix.py; do not edit by hand -->"
END = "<!-- role-matrix: end -->"
_ROLES_SHOWN = (ADMIN, MARKETER, APPROVER, OPS, INTEGRATION)


def _cell(access: Access, role: Role) -> str:
    return "✓" if access.allows(role) else ""


def docs_table() -> str:
    """The matrix as a Markdown table, one row per route in RULES' order."""
    header = "| route | door | " + " | ".join(role.value for role in _ROLES_SHOWN) + " |"
    rule = "| --- | --- |" + " :-: |" * len(_ROLES_SHOWN)
    rows = [
        f"| `{route}` | {access.door.value} | " + " | ".join(_cell(access, role) for role in _ROLES_SHOWN) + " |"
        for route, access in RULES.items()
    ]
    return "\n".join([header, rule, *rows])


def with_docs_table(text: str) -> str:
    """`text` (docs/api.md) with the generated section replaced by the current table."""
    pattern = re.compile(re.escape(BEGIN) + r"\n(?:.*?\n)?" + re.escape(END), re.DOTALL)
    if not pattern.search(text):
        raise ValueError(f"docs/api.md lacks the lines {BEGIN!r} ... {END!r}")
    return pattern.sub(lambda _: f"{BEGIN}\n{docs_table()}\n{END}", text, count=1)


def main() -> int:
    """Rewrite docs/api.md's table from RULES."""
    before = DOCS.read_text(encoding="utf-8")
    after = with_docs_table(before)
    if after != before:
        DOCS.write_text(after, encoding="utf-8")
    print(f"{DOCS}: {'updated' if after != before else 'already up to date'}")  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
