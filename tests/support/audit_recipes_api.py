"""One recipe per state-changing /api/v1 route: the change a person makes through the API, and the entry it
must write (tests/platform/test_audit_trail.py)."""

from __future__ import annotations

from typing import Any

from services.platform.api_keys import Role
from tests.support import audit_setup as setup
from tests.support.audit_trail import Expected, Person, Stage, ok, recipe
from tests.support.challenges import challenge_body
from tests.support.coupons import template_body
from tests.support.helpers import member_body
from tests.support.imports import members_csv, prefix
from tests.support.plans import plan_body, plan_order
from tests.support.surveys import nps_body
from tests.support.tickets import ticket_body


@recipe("POST /api/v1/members", Role.MARKETER, shop_silent=True)
async def member_create(stage: Stage, person: Person) -> Expected:
    made = ok(await person.act("POST", "/api/v1/members", json=member_body()))
    return Expected("member.create", "member", made.json()["id"])


@recipe("PATCH /api/v1/members/{member_id}", Role.MARKETER, shop_silent=True)
async def member_update(stage: Stage, person: Person) -> Expected:
    member_id = await setup.member(stage)
    ok(await person.act("PATCH", f"/api/v1/members/{member_id}", json={"tags": ["vip"]}))
    return Expected("member.update", "member", member_id)


@recipe("DELETE /api/v1/members/{member_id}", Role.ADMIN)
async def member_erase(stage: Stage, person: Person) -> Expected:
    member_id = await setup.member(stage)
    ok(await person.act("DELETE", f"/api/v1/members/{member_id}", json={"reason": "the member asked by letter"}))
    return Expected("member.erase", "member", member_id)


@recipe("POST /api/v1/keys", Role.ADMIN)
async def key_create(stage: Stage, person: Person) -> Expected:
    made = ok(await person.act("POST", "/api/v1/keys", json={"name": setup.fresh("till"), "role": "integration"}))
    return Expected("key.create", "api_key", made.json()["id"])


@recipe("DELETE /api/v1/keys/{key_id}", Role.ADMIN)
async def key_revoke(stage: Stage, person: Person) -> Expected:
    made = ok(await stage.admin.post("/api/v1/keys", json={"name": setup.fresh("old"), "role": "marketer"}))
    key_id = made.json()["id"]
    ok(await person.act("DELETE", f"/api/v1/keys/{key_id}"))
    return Expected("key.revoke", "api_key", key_id)


@recipe("POST /api/v1/journeys", Role.MARKETER)
async def journey_create(stage: Stage, person: Person) -> Expected:
    kind = setup.fresh("aj")
    ok(await person.act("POST", "/api/v1/journeys", json=setup.journey_body(kind)))
    return Expected("journey.create", "journey", kind)


@recipe("PUT /api/v1/journeys/{kind}", Role.MARKETER)
async def journey_publish(stage: Stage, person: Person) -> Expected:
    kind = await setup.journey(stage)
    ok(await person.act("PUT", f"/api/v1/journeys/{kind}", json=setup.journey_body(kind, name="Renamed")))
    return Expected("journey.publish", "journey", kind)


@recipe("POST /api/v1/journeys/{kind}/enable", Role.MARKETER)
async def journey_enable(stage: Stage, person: Person) -> Expected:
    kind = await setup.journey(stage)
    ok(await stage.admin.post(f"/api/v1/journeys/{kind}/disable"))
    ok(await person.act("POST", f"/api/v1/journeys/{kind}/enable"))
    return Expected("journey.enable", "journey", kind)


@recipe("POST /api/v1/journeys/{kind}/disable", Role.MARKETER)
async def journey_disable(stage: Stage, person: Person) -> Expected:
    kind = await setup.journey(stage)
    ok(await person.act("POST", f"/api/v1/journeys/{kind}/disable"))
    return Expected("journey.disable", "journey", kind)


@recipe("POST /api/v1/journeys/runs/{run_id}/cancel", Role.MARKETER)
async def journey_run_cancel(stage: Stage, person: Person) -> Expected:
    run_id = await setup.running_journey_run(stage)
    ok(await person.act("POST", f"/api/v1/journeys/runs/{run_id}/cancel"))
    return Expected("journey.cancel", "journey_run", run_id)


@recipe("POST /api/v1/tasks/{task_id}/done", Role.OPS)
async def task_done(stage: Stage, person: Person) -> Expected:
    task_id = await setup.staff_task(stage)
    ok(await person.act("POST", f"/api/v1/tasks/{task_id}/done"))
    return Expected("task.done", "staff_task", task_id)


@recipe("POST /api/v1/tasks/{task_id}/reopen", Role.OPS)
async def task_reopen(stage: Stage, person: Person) -> Expected:
    task_id = await setup.staff_task(stage, done=True)
    ok(await person.act("POST", f"/api/v1/tasks/{task_id}/reopen"))
    return Expected("task.reopen", "staff_task", task_id)


@recipe("POST /api/v1/approvals/{approval_id}/approve", Role.APPROVER)
async def approval_approve(stage: Stage, person: Person) -> Expected:
    approval_id = await setup.approval(stage)
    ok(await person.act("POST", f"/api/v1/approvals/{approval_id}/approve", json={"note": "regular customer"}))
    return Expected("approval.approve", "approval", approval_id)


@recipe("POST /api/v1/approvals/{approval_id}/reject", Role.APPROVER)
async def approval_reject(stage: Stage, person: Person) -> Expected:
    approval_id = await setup.approval(stage)
    ok(await person.act("POST", f"/api/v1/approvals/{approval_id}/reject", json={"reason": "out of stock"}))
    return Expected("approval.reject", "approval", approval_id)


@recipe("POST /api/v1/member-fields", Role.ADMIN)
async def field_create(stage: Stage, person: Person) -> Expected:
    made = ok(await person.act("POST", "/api/v1/member-fields", json=setup.field_body()))
    return Expected("member_field.create", "member_field", made.json()["id"])


@recipe("PATCH /api/v1/member-fields/{field_key}", Role.ADMIN)
async def field_update(stage: Stage, person: Person) -> Expected:
    field = await setup.member_field(stage)
    ok(
        await person.act(
            "PATCH", f"/api/v1/member-fields/{field['key']}", json={"labels": {"en": "Store", "zh-CN": "门店"}}
        )
    )
    return Expected("member_field.update", "member_field", field["id"])


@recipe("DELETE /api/v1/member-fields/{field_key}", Role.ADMIN)
async def field_delete(stage: Stage, person: Person) -> Expected:
    field = await setup.member_field(stage)
    ok(await person.act("DELETE", f"/api/v1/member-fields/{field['key']}"))
    return Expected("member_field.delete", "member_field", field["id"])


@recipe("POST /api/v1/members/{member_id}/points/adjustments", Role.ADMIN)
async def points_adjust(stage: Stage, person: Person) -> Expected:
    member_id = await setup.member(stage)
    url = f"/api/v1/members/{member_id}/points/adjustments"
    ok(await person.act("POST", url, json={"points": 250, "reason": "goodwill after a late delivery"}))
    return Expected("points.adjust", "member", member_id)


@recipe("POST /api/v1/imports", Role.MARKETER)
async def import_create(stage: Stage, person: Person) -> Expected:
    made = ok(await person.act("POST", "/api/v1/imports", json={"chunk_rows": 10}))
    return Expected("import.create", "import", made.json()["id"])


async def _open_import(stage: Stage, *, with_file: bool) -> str:
    import_id = str(ok(await stage.admin.post("/api/v1/imports", json={})).json()["id"])
    if with_file:
        params = {"kind": "members", "format": "csv"}
        ok(await stage.admin.post(f"/api/v1/imports/{import_id}/files", params=params, content=members_csv(prefix())))
    return import_id


@recipe("POST /api/v1/imports/{import_id}/files", Role.MARKETER)
async def import_file(stage: Stage, person: Person) -> Expected:
    import_id = await _open_import(stage, with_file=False)
    url = f"/api/v1/imports/{import_id}/files"
    ok(await person.act("POST", url, params={"kind": "members", "format": "csv"}, content=members_csv(prefix())))
    return Expected("import.file", "import", import_id)


@recipe("POST /api/v1/imports/{import_id}/start", Role.MARKETER)
async def import_start(stage: Stage, person: Person) -> Expected:
    import_id = await _open_import(stage, with_file=True)
    ok(await person.act("POST", f"/api/v1/imports/{import_id}/start"))
    return Expected("import.start", "import", import_id)


@recipe("POST /api/v1/outbox/{row_id}/retry", Role.OPS)
async def outbox_retry(stage: Stage, person: Person) -> Expected:
    row_id = await setup.parked_row(stage)
    ok(await person.act("POST", f"/api/v1/outbox/{row_id}/retry"))
    return Expected("outbox.retry", "outbox", str(row_id))


@recipe("PUT /api/v1/tiers", Role.ADMIN)
async def tiers_replace(stage: Stage, person: Person) -> Expected:
    ladder = ok(await stage.admin.get("/api/v1/tiers")).json()["tiers"]
    tiers = [{k: t[k] for k in ("code", "name", "min_spend_exclusive", "earn_multiplier")} for t in ladder]
    ok(await person.act("PUT", "/api/v1/tiers", json={"tiers": tiers}))
    return Expected("tiers.replace", "tiers", "ladder")


@recipe("PUT /api/v1/tiers/policy", Role.ADMIN)
async def tier_policy_update(stage: Stage, person: Person) -> Expected:
    policy = ok(await stage.admin.get("/api/v1/tiers/policy")).json()
    body = {k: v for k, v in policy.items() if k not in ("updated_by", "updated_at")}
    ok(await person.act("PUT", "/api/v1/tiers/policy", json=body))  # the same policy: audited all the same
    return Expected("tiers.policy.update", "tier_policy", "policy")


@recipe("PUT /api/v1/checkout-settings", Role.ADMIN)
async def checkout_rate_update(stage: Stage, person: Person) -> Expected:
    """The rate as it is, sent again: the change is audited and the shared programme stays as it was."""
    rate = ok(await stage.admin.get("/api/v1/checkout-settings")).json()
    body = {k: v for k, v in rate.items() if k not in ("updated_at", "updated_by")}
    ok(await person.act("PUT", "/api/v1/checkout-settings", json=body))
    return Expected("checkout_settings.update", "checkout_settings", "programme")


@recipe("POST /api/v1/rewards", Role.MARKETER)
async def reward_create(stage: Stage, person: Person) -> Expected:
    made = ok(await person.act("POST", "/api/v1/rewards", json={"name": setup.fresh("Mug"), "points_cost": 300}))
    return Expected("reward.create", "reward", made.json()["id"])


@recipe("PATCH /api/v1/rewards/{reward_id}", Role.MARKETER)
async def reward_update(stage: Stage, person: Person) -> Expected:
    made = ok(await stage.admin.post("/api/v1/rewards", json={"name": setup.fresh("Mug"), "points_cost": 300}))
    reward_id = made.json()["id"]
    ok(await person.act("PATCH", f"/api/v1/rewards/{reward_id}", json={"stock": 12}))
    return Expected("reward.update", "reward", reward_id)


@recipe("POST /api/v1/coupon-templates", Role.MARKETER)
async def coupon_template_create(stage: Stage, person: Person) -> Expected:
    body = template_body()
    ok(await person.act("POST", "/api/v1/coupon-templates", json=body))
    return Expected("coupon_template.create", "coupon_template", body["code"])


@recipe("POST /api/v1/coupons", Role.MARKETER, shop_silent=True)
async def coupon_issue(stage: Stage, person: Person) -> Expected:
    template = template_body()
    ok(await stage.admin.post("/api/v1/coupon-templates", json=template))
    member_id = await setup.member(stage)
    made = ok(
        await person.act("POST", "/api/v1/coupons", json={"template_code": template["code"], "member_id": member_id})
    )
    return Expected("coupon.issue", "coupon", made.json()["id"])


@recipe("POST /api/v1/segments", Role.MARKETER)
async def segment_create(stage: Stage, person: Person) -> Expected:
    made = ok(await person.act("POST", "/api/v1/segments", json=setup.segment_body()))
    return Expected("segment.create", "segment", made.json()["id"])


@recipe("PUT /api/v1/segments/{segment_id}", Role.MARKETER)
async def segment_update(stage: Stage, person: Person) -> Expected:
    segment_id = await setup.segment(stage)
    ok(await person.act("PUT", f"/api/v1/segments/{segment_id}", json=setup.segment_body()))
    return Expected("segment.update", "segment", segment_id)


@recipe("DELETE /api/v1/segments/{segment_id}", Role.MARKETER)
async def segment_delete(stage: Stage, person: Person) -> Expected:
    segment_id = await setup.segment(stage)
    ok(await person.act("DELETE", f"/api/v1/segments/{segment_id}"))
    return Expected("segment.delete", "segment", segment_id)


@recipe("POST /api/v1/campaigns", Role.MARKETER)
async def campaign_create(stage: Stage, person: Person) -> Expected:
    made = ok(await person.act("POST", "/api/v1/campaigns", json={**await setup.campaign_body(stage), "start": True}))
    return Expected("campaign.create", "campaign", made.json()["id"])


@recipe("POST /api/v1/campaigns/{campaign_id}/start", Role.MARKETER)
async def campaign_start(stage: Stage, person: Person) -> Expected:
    campaign_id = await setup.campaign(stage)
    ok(await person.act("POST", f"/api/v1/campaigns/{campaign_id}/start"))
    return Expected("campaign.start", "campaign", campaign_id)


@recipe("POST /api/v1/campaigns/{campaign_id}/pause", Role.MARKETER)
async def campaign_pause(stage: Stage, person: Person) -> Expected:
    campaign_id = await setup.campaign(stage, start=True)
    ok(await person.act("POST", f"/api/v1/campaigns/{campaign_id}/pause"))
    return Expected("campaign.pause", "campaign", campaign_id)


@recipe("POST /api/v1/campaigns/{campaign_id}/resume", Role.MARKETER)
async def campaign_resume(stage: Stage, person: Person) -> Expected:
    campaign_id = await setup.campaign(stage, paused=True)
    ok(await person.act("POST", f"/api/v1/campaigns/{campaign_id}/resume"))
    return Expected("campaign.resume", "campaign", campaign_id)


@recipe("POST /api/v1/campaigns/{campaign_id}/cancel", Role.MARKETER)
async def campaign_cancel(stage: Stage, person: Person) -> Expected:
    campaign_id = await setup.campaign(stage, start=True)
    ok(await person.act("POST", f"/api/v1/campaigns/{campaign_id}/cancel", json={"cancel_journeys": False}))
    return Expected("campaign.cancel", "campaign", campaign_id)


@recipe("POST /api/v1/rules", Role.MARKETER)
async def rule_create(stage: Stage, person: Person) -> Expected:
    made = ok(await person.act("POST", "/api/v1/rules", json=setup.rule_body()))
    return Expected("rule.create", "rule", made.json()["id"])


@recipe("PUT /api/v1/rules/{rule_id}", Role.MARKETER)
async def rule_publish(stage: Stage, person: Person) -> Expected:
    body = setup.rule_body()
    rule_id = ok(await stage.admin.post("/api/v1/rules", json=body)).json()["id"]
    ok(await person.act("PUT", f"/api/v1/rules/{rule_id}", json={**body, "actions": [{"grant_points": {"points": 9}}]}))
    return Expected("rule.publish", "rule", rule_id)


@recipe("POST /api/v1/rules/{rule_id}/enable", Role.MARKETER)
async def rule_enable(stage: Stage, person: Person) -> Expected:
    rule_id = await setup.rule(stage)
    ok(await stage.admin.post(f"/api/v1/rules/{rule_id}/disable"))
    ok(await person.act("POST", f"/api/v1/rules/{rule_id}/enable"))
    return Expected("rule.enable", "rule", rule_id)


@recipe("POST /api/v1/rules/{rule_id}/disable", Role.MARKETER)
async def rule_disable(stage: Stage, person: Person) -> Expected:
    rule_id = await setup.rule(stage)
    ok(await person.act("POST", f"/api/v1/rules/{rule_id}/disable"))
    return Expected("rule.disable", "rule", rule_id)


@recipe("PUT /api/v1/templates/{key}/{channel}/{locale}", Role.MARKETER)
async def template_put(stage: Stage, person: Person) -> Expected:
    key = setup.fresh("audit_note")
    body = {"subject": "Hello {{ member.name }}", "body": "Thanks for shopping with us."}
    ok(await person.act("PUT", f"/api/v1/templates/{key}/email/en", json=body))
    return Expected("template.put", "message_template", f"{key}/email/en")


@recipe("POST /api/v1/surveys", Role.MARKETER)
async def survey_create(stage: Stage, person: Person) -> Expected:
    made = ok(await person.act("POST", "/api/v1/surveys", json=nps_body()))
    return Expected("survey.create", "survey", made.json()["id"])


@recipe("PATCH /api/v1/surveys/{survey_key}", Role.MARKETER)
async def survey_update(stage: Stage, person: Person) -> Expected:
    made = ok(await stage.admin.post("/api/v1/surveys", json=nps_body())).json()
    ok(await person.act("PATCH", f"/api/v1/surveys/{made['key']}", json={"active": False}))
    return Expected("survey.update", "survey", made["id"])


@recipe("DELETE /api/v1/surveys/{survey_key}", Role.MARKETER)
async def survey_delete(stage: Stage, person: Person) -> Expected:
    made = ok(await stage.admin.post("/api/v1/surveys", json=nps_body())).json()
    ok(await person.act("DELETE", f"/api/v1/surveys/{made['key']}"))
    return Expected("survey.delete", "survey", made["id"])


@recipe("POST /api/v1/challenges", Role.MARKETER)
async def challenge_create(stage: Stage, person: Person) -> Expected:
    made = ok(await person.act("POST", "/api/v1/challenges", json=challenge_body()))
    return Expected("challenge.create", "challenge", made.json()["id"])


@recipe("PUT /api/v1/challenges/{challenge_id}", Role.MARKETER)
async def challenge_update(stage: Stage, person: Person) -> Expected:
    body = challenge_body()
    made = ok(await stage.admin.post("/api/v1/challenges", json=body)).json()
    change = {"active": False, "definition": body["definition"]}
    ok(await person.act("PUT", f"/api/v1/challenges/{made['id']}", json=change))
    return Expected("challenge.update", "challenge", made["id"])


# Service tickets: a person's ticket changes are audited; the helpdesk's (the integration key) are its traffic,
# kept in the ticket and its history, so the same recipes as the integration key write nothing.


@recipe("POST /api/v1/ticket-queues", Role.ADMIN)
async def ticket_queue_create(stage: Stage, person: Person) -> Expected:
    code = setup.fresh("q").replace("_", "-")
    body = {"code": code, "name": f"Care {code}", "lead": setup.fresh("lead")}
    made = ok(await person.act("POST", "/api/v1/ticket-queues", json=body))
    return Expected("queue.create", "care_queue", made.json()["id"])


@recipe("POST /api/v1/tickets", Role.OPS, shop_silent=True)
async def ticket_open(stage: Stage, person: Person) -> Expected:
    body = ticket_body(await setup.member(stage), await setup.ticket_queue(stage))
    made = ok(await person.act("POST", "/api/v1/tickets", json=body))
    return Expected("ticket.open", "ticket", made.json()["id"])


async def _ticket_command(stage: Stage, person: Person, call: str, action: str, body: Any = None) -> Expected:
    """`call` on a routed ticket (a closed one for a reopen), audited as `ticket.{action}`."""
    ticket_id = await setup.ticket(stage, closed=call == "reopen")
    ok(await person.act("POST", f"/api/v1/tickets/{ticket_id}/{call}", json=body))
    return Expected(f"ticket.{action}", "ticket", ticket_id)


@recipe("POST /api/v1/tickets/{ticket_id}/replies", Role.OPS, shop_silent=True)
async def ticket_reply(stage: Stage, person: Person) -> Expected:
    return await _ticket_command(stage, person, "replies", "reply", {"body": "A new tin is on its way."})


@recipe("POST /api/v1/tickets/{ticket_id}/status", Role.OPS, shop_silent=True)
async def ticket_status(stage: Stage, person: Person) -> Expected:
    return await _ticket_command(stage, person, "status", "status", {"status": "waiting_on_member"})


@recipe("POST /api/v1/tickets/{ticket_id}/assign", Role.OPS, shop_silent=True)
async def ticket_assign(stage: Stage, person: Person) -> Expected:
    return await _ticket_command(stage, person, "assign", "assign", {"assignee": "Wang Fang"})


@recipe("POST /api/v1/tickets/{ticket_id}/close", Role.OPS, shop_silent=True)
async def ticket_close(stage: Stage, person: Person) -> Expected:
    return await _ticket_command(stage, person, "close", "close")


@recipe("POST /api/v1/tickets/{ticket_id}/reopen", Role.OPS, shop_silent=True)
async def ticket_reopen(stage: Stage, person: Person) -> Expected:
    return await _ticket_command(stage, person, "reopen", "reopen")


@recipe("POST /api/v1/messages/{message_id}/resend", Role.OPS)
async def message_resend(stage: Stage, person: Person) -> Expected:
    """The stage has no SMTP host, so the log provider takes the resend (the hand-over is the same)."""
    message_id = await setup.unknown_outcome_message(stage)
    resent = ok(await person.act("POST", f"/api/v1/messages/{message_id}/resend")).json()
    assert resent["status"] == "sent", resent
    return Expected("message.resend", "message", message_id)


# Paid plans: an admin defines them; a cancellation is audited when a person makes it, and is the shop's
# traffic (recorded on the membership) when the shop's key does.


@recipe("POST /api/v1/plans", Role.ADMIN)
async def plan_create(stage: Stage, person: Person) -> Expected:
    made = ok(await person.act("POST", "/api/v1/plans", json=plan_body()))
    return Expected("plan.create", "plan", made.json()["id"])


@recipe("PUT /api/v1/plans/{plan_id}", Role.ADMIN)
async def plan_update(stage: Stage, person: Person) -> Expected:
    body = plan_body()
    plan_id = ok(await stage.admin.post("/api/v1/plans", json=body)).json()["id"]
    change = {k: v for k, v in body.items() if k != "code"} | {"price": "99.00"}
    ok(await person.act("PUT", f"/api/v1/plans/{plan_id}", json=change))
    return Expected("plan.update", "plan", plan_id)


@recipe("POST /api/v1/memberships/{membership_id}/cancel", Role.ADMIN, shop_silent=True)
async def membership_cancel(stage: Stage, person: Person) -> Expected:
    plan = ok(await stage.admin.post("/api/v1/plans", json=plan_body())).json()
    member_id = await setup.member(stage)
    ok(await stage.shop.post("/api/v1/orders", json=plan_order(member_id, plan)))
    (membership,) = ok(await stage.shop.get(f"/api/v1/members/{member_id}/plan")).json()["memberships"]
    ok(await person.act("POST", f"/api/v1/memberships/{membership['id']}/cancel"))
    return Expected("membership.cancel", "membership", membership["id"])
