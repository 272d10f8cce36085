"""One recipe per state-changing console route: the change a person makes signed in to the console (a form's
POST with its CSRF token, or a builder's JSON call), and the entry it must write
(tests/platform/test_audit_trail.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx

from services.journeys import drafts
from services.loyalty import expiry_reminders
from services.loyalty.tier_policy import TierPolicyIn
from services.platform.api_keys import Role
from services.platform.audit import Actor
from tests.support import audit_setup as setup
from tests.support.audit_trail import Expected, Person, Stage, ok, recipe
from tests.support.challenges import challenge_body, challenge_form, unique_code
from tests.support.plans import plan_body
from tests.support.surveys import nps_body
from tests.support.tickets import ticket_body


def _last_part(response: httpx.Response) -> str:
    """The id at the end of the page a form redirected to (`/console/rules/<id>?flash=...`)."""
    return httpx.URL(ok(response).headers["location"]).path.rstrip("/").rsplit("/", 1)[-1]


async def _field_id(stage: Stage, key: str) -> str:
    return str(ok(await stage.admin.get(f"/api/v1/member-fields/{key}")).json()["id"])


# Forms


@recipe("POST /console/members/{member_id}/erase", Role.ADMIN)
async def member_erase(stage: Stage, person: Person) -> Expected:
    member_id = await setup.member(stage)
    form = {"reason": "the member asked at the till", "confirm": "1"}
    ok(await person.act("POST", f"/console/members/{member_id}/erase", data=form))
    return Expected("member.erase", "member", member_id)


@recipe("POST /console/inbox/{approval_id}/{action}", Role.APPROVER)
async def inbox_decide(stage: Stage, person: Person) -> Expected:
    approval_id = await setup.approval(stage)
    ok(await person.act("POST", f"/console/inbox/{approval_id}/approve", data={"reason": "known customer"}))
    return Expected("approval.approve", "approval", approval_id)


@recipe("POST /console/campaigns", Role.MARKETER)
async def campaign_create(stage: Stage, person: Person) -> Expected:
    body = await setup.campaign_body(stage)
    start_at = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    form = {"name": body["name"], "segment_id": body["segment_id"], "journey_kind": body["journey_kind"]}
    campaign_id = _last_part(await person.act("POST", "/console/campaigns", data={**form, "start_at": start_at}))
    return Expected("campaign.create", "campaign", campaign_id)


@recipe("POST /console/campaigns/{campaign_id}/{action}", Role.MARKETER)
async def campaign_act(stage: Stage, person: Person) -> Expected:
    campaign_id = await setup.campaign(stage, start=True)
    ok(await person.act("POST", f"/console/campaigns/{campaign_id}/pause", data={}))
    return Expected("campaign.pause", "campaign", campaign_id)


def _field_form(key: str, label: str = "Favourite store") -> dict[str, str]:
    return {"key": key, "label_en": label, "label_zh_cn": "常去门店", "type": "text", "options": ""}


@recipe("POST /console/fields", Role.ADMIN)
async def field_create(stage: Stage, person: Person) -> Expected:
    key = setup.fresh("cf")
    ok(await person.act("POST", "/console/fields", data=_field_form(key)))
    return Expected("member_field.create", "member_field", await _field_id(stage, key))


@recipe("POST /console/fields/{key}", Role.ADMIN)
async def field_update(stage: Stage, person: Person) -> Expected:
    field = await setup.member_field(stage)
    ok(await person.act("POST", f"/console/fields/{field['key']}", data=_field_form(field["key"], "Store")))
    return Expected("member_field.update", "member_field", field["id"])


@recipe("POST /console/fields/{key}/delete", Role.ADMIN)
async def field_delete(stage: Stage, person: Person) -> Expected:
    field = await setup.member_field(stage)
    ok(await person.act("POST", f"/console/fields/{field['key']}/delete", data={}))
    return Expected("member_field.delete", "member_field", field["id"])


def _survey_form(key: str, title: str = "How did we do?") -> dict[str, str]:
    return {
        "key": key,
        "kind": "nps",
        "title_en": title,
        "title_zh_cn": "请评价我们的服务",
        "prompt_en": "How likely are you to recommend us?",
        "prompt_zh_cn": "您有多大可能推荐我们？",
        "active": "1",
    }


@recipe("POST /console/surveys", Role.MARKETER)
async def survey_create(stage: Stage, person: Person) -> Expected:
    key = setup.fresh("cs")
    ok(await person.act("POST", "/console/surveys", data=_survey_form(key)))
    return Expected("survey.create", "survey", str(ok(await stage.admin.get(f"/api/v1/surveys/{key}")).json()["id"]))


@recipe("POST /console/surveys/{key}", Role.MARKETER)
async def survey_update(stage: Stage, person: Person) -> Expected:
    made = ok(await stage.admin.post("/api/v1/surveys", json=nps_body())).json()
    ok(await person.act("POST", f"/console/surveys/{made['key']}", data=_survey_form(made["key"], "Thank you")))
    return Expected("survey.update", "survey", made["id"])


@recipe("POST /console/challenges", Role.MARKETER)
async def challenge_create(stage: Stage, person: Person) -> Expected:
    code = unique_code("cc")
    ok(await person.act("POST", "/console/challenges", data=challenge_form(code)))
    made = next(c for c in ok(await stage.admin.get("/api/v1/challenges")).json() if c["code"] == code)
    return Expected("challenge.create", "challenge", made["id"])


@recipe("POST /console/challenges/{challenge_id}", Role.MARKETER)
async def challenge_update(stage: Stage, person: Person) -> Expected:
    made = ok(await stage.admin.post("/api/v1/challenges", json=challenge_body())).json()
    ok(await person.act("POST", f"/console/challenges/{made['id']}", data=challenge_form(title_en="Order twice!")))
    return Expected("challenge.update", "challenge", made["id"])


@recipe("POST /console/journeys/{kind}", Role.MARKETER)
async def journey_publish(stage: Stage, person: Person) -> Expected:
    kind = await setup.journey(stage)
    definition = json.dumps(setup.journey_body(kind, name="Renamed in the console"))
    ok(await person.act("POST", f"/console/journeys/{kind}", data={"definition": definition}))
    return Expected("journey.publish", "journey", kind)


@recipe("POST /console/journeys/{kind}/{switch}", Role.MARKETER)
async def journey_switch(stage: Stage, person: Person) -> Expected:
    kind = await setup.journey(stage)
    ok(await person.act("POST", f"/console/journeys/{kind}/disable", data={}))
    return Expected("journey.disable", "journey", kind)


@recipe("POST /console/rules/new", Role.MARKETER)
async def rule_new(stage: Stage, person: Person) -> Expected:
    made = await person.act("POST", "/console/rules/new", data={"definition": json.dumps(setup.rule_body())})
    return Expected("rule.create", "rule", _last_part(made))


@recipe("POST /console/rules/{rule_id}", Role.MARKETER)
async def rule_publish(stage: Stage, person: Person) -> Expected:
    body = setup.rule_body()
    rule_id = ok(await stage.admin.post("/api/v1/rules", json=body)).json()["id"]
    changed = {**body, "actions": [{"grant_points": {"points": 9}}]}
    ok(await person.act("POST", f"/console/rules/{rule_id}", data={"definition": json.dumps(changed)}))
    return Expected("rule.publish", "rule", rule_id)


@recipe("POST /console/rules/{rule_id}/{switch}", Role.MARKETER)
async def rule_switch(stage: Stage, person: Person) -> Expected:
    rule_id = await setup.rule(stage)
    ok(await person.act("POST", f"/console/rules/{rule_id}/disable", data={}))
    return Expected("rule.disable", "rule", rule_id)


@recipe("POST /console/tasks/{task_id}", Role.OPS)
async def task_toggle(stage: Stage, person: Person) -> Expected:
    task_id = await setup.staff_task(stage)
    ok(await person.act("POST", f"/console/tasks/{task_id}", data={"done": "1"}))
    return Expected("task.done", "staff_task", task_id)


# The builders' JSON calls


@recipe("POST /console/api/segments", Role.MARKETER)
async def segment_create(stage: Stage, person: Person) -> Expected:
    made = ok(await person.act("POST", "/console/api/segments", json=setup.segment_body()))
    return Expected("segment.create", "segment", made.json()["id"])


@recipe("PUT /console/api/segments/{segment_id}", Role.MARKETER)
async def segment_update(stage: Stage, person: Person) -> Expected:
    segment_id = await setup.segment(stage)
    ok(await person.act("PUT", f"/console/api/segments/{segment_id}", json=setup.segment_body()))
    return Expected("segment.update", "segment", segment_id)


@recipe("DELETE /console/api/segments/{segment_id}", Role.MARKETER)
async def segment_delete(stage: Stage, person: Person) -> Expected:
    segment_id = await setup.segment(stage)
    ok(await person.act("DELETE", f"/console/api/segments/{segment_id}", json={}))
    return Expected("segment.delete", "segment", segment_id)


@recipe("POST /console/api/journeys", Role.MARKETER)
async def journey_create(stage: Stage, person: Person) -> Expected:
    kind = setup.fresh("cj")
    ok(await person.act("POST", "/console/api/journeys", json={"definition": setup.journey_body(kind), "layout": {}}))
    return Expected("journey.create", "journey", kind)


@recipe("POST /console/api/journeys/{kind}/versions", Role.MARKETER)
async def journey_version(stage: Stage, person: Person) -> Expected:
    kind = await setup.journey(stage)
    body = {"definition": setup.journey_body(kind, name="Renamed on the canvas"), "layout": {}}
    ok(await person.act("POST", f"/console/api/journeys/{kind}/versions", json=body))
    return Expected("journey.publish", "journey", kind)


@recipe("PUT /console/api/journeys/{kind}/draft", Role.MARKETER)
async def journey_draft_save(stage: Stage, person: Person) -> Expected:
    kind = await setup.journey(stage)
    body = {"definition": setup.journey_body(kind, name="Draft"), "layout": {}}
    ok(await person.act("PUT", f"/console/api/journeys/{kind}/draft", json=body))
    return Expected("journey.draft_save", "journey", kind)


@recipe("DELETE /console/api/journeys/{kind}/draft", Role.MARKETER)
async def journey_draft_discard(stage: Stage, person: Person) -> Expected:
    kind = await setup.journey(stage)
    async with stage.sessions() as session:
        raw = setup.journey_body(kind, name="Draft")
        await drafts.save_draft(session, kind, raw, drafts.Layout({}), actor=Actor.system("audit-setup"))
        await session.commit()
    ok(await person.act("DELETE", f"/console/api/journeys/{kind}/draft", json={}))
    return Expected("journey.draft_discard", "journey", kind)


@recipe("POST /console/api/rules", Role.MARKETER)
async def rule_create(stage: Stage, person: Person) -> Expected:
    made = ok(await person.act("POST", "/console/api/rules", json=setup.rule_body()))
    return Expected("rule.create", "rule", made.json()["id"])


@recipe("PUT /console/api/rules/{rule_id}", Role.MARKETER)
async def rule_builder_publish(stage: Stage, person: Person) -> Expected:
    body = setup.rule_body()
    rule_id = ok(await stage.admin.post("/api/v1/rules", json=body)).json()["id"]
    changed = {**body, "actions": [{"grant_points": {"points": 11}}]}
    ok(await person.act("PUT", f"/console/api/rules/{rule_id}", json=changed))
    return Expected("rule.publish", "rule", rule_id)


# API keys page


async def _key_named(stage: Stage, name: str) -> str:
    keys = ok(await stage.admin.get("/api/v1/keys")).json()
    return str(next(key["id"] for key in keys if key["name"] == name))


@recipe("POST /console/keys", Role.ADMIN)
async def console_key_create(stage: Stage, person: Person) -> Expected:
    name = setup.fresh("till")
    form = {"name": name, "role": "integration", "expires_in_days": "30"}
    ok(await person.act("POST", "/console/keys", data=form))
    return Expected("key.create", "api_key", await _key_named(stage, name))


@recipe("POST /console/keys/{key_id}/revoke", Role.ADMIN)
async def console_key_revoke(stage: Stage, person: Person) -> Expected:
    made = ok(await stage.admin.post("/api/v1/keys", json={"name": setup.fresh("old"), "role": "marketer"}))
    key_id = made.json()["id"]
    ok(await person.act("POST", f"/console/keys/{key_id}/revoke", data={}))
    return Expected("key.revoke", "api_key", key_id)


# Service tickets


@recipe("POST /console/tickets/{ticket_id}/{action}", Role.OPS)
async def console_ticket_command(stage: Stage, person: Person) -> Expected:
    ticket_id = await setup.ticket(stage)
    ok(await person.act("POST", f"/console/tickets/{ticket_id}/assign", data={"assignee": "Chen Jie"}))
    return Expected("ticket.assign", "ticket", ticket_id)


@recipe("POST /console/tickets/new", Role.OPS)
async def console_ticket_open(stage: Stage, person: Person) -> Expected:
    member_id, queue = await setup.member(stage), await setup.ticket_queue(stage)
    external_id = ok(await stage.shop.get(f"/api/v1/members/{member_id}")).json()["external_id"]
    form = {**ticket_body(member_id, queue), "member": external_id}
    del form["member_id"]
    return Expected("ticket.open", "ticket", _last_part(await person.act("POST", "/console/tickets/new", data=form)))


# Points at checkout: the rate form


@recipe("POST /console/checkout", Role.ADMIN)
async def console_checkout_rate(stage: Stage, person: Person) -> Expected:
    """The form sent with the rate as it is: audited, and the shared programme stays as it was."""
    rate = ok(await stage.admin.get("/api/v1/checkout-settings")).json()
    form = {k: str(v) for k, v in rate.items() if k not in ("updated_at", "updated_by", "enabled")}
    if rate["enabled"]:
        form["enabled"] = "on"
    ok(await person.act("POST", "/console/checkout", data=form))
    return Expected("checkout_settings.update", "checkout_settings", "programme")


@recipe("POST /console/checkout/expiry-reminders", Role.ADMIN)
async def console_expiry_reminders(stage: Stage, person: Person) -> Expected:
    """The reminder form sent with the leads in force: audited, and the daily scan's leads stay as they were."""
    async with stage.sessions() as session:
        days = (await expiry_reminders.current(session)).days
    form = {f"lead_{n}": str(d) for n, d in enumerate(days, start=1)}
    ok(await person.act("POST", "/console/checkout/expiry-reminders", data=form))
    return Expected("points_settings.update", "points_settings", "expiry_reminders")


# Sign-up sources page


@recipe("POST /console/sources", Role.MARKETER)
async def console_source_create(stage: Stage, person: Person) -> Expected:  # noqa: ARG001 - the recipe's shape
    code = setup.fresh("store").replace("_", "-")
    ok(await person.act("POST", "/console/sources", data={"code": code, "label": "Shanghai 1", "kind": "store"}))
    return Expected("portal_source.create", "portal_source", code)


# Referral programme page


@recipe("POST /console/referrals", Role.MARKETER)
async def console_referral_programme(stage: Stage, person: Person) -> Expected:  # noqa: ARG001 - the recipe's shape
    """Saves the programme with its defaults (the values the migration seeds), which no other test relies on."""
    form = {
        "active": "on",
        "return_window_days": "14",
        "monthly_limit": "10",
        "referrer_reward": "points",
        "referrer_points": "500",
        "referee_reward": "points",
        "referee_points": "200",
    }
    ok(await person.act("POST", "/console/referrals", data=form))
    return Expected("referral_programme.update", "referral_programme", "1")


def _plan_form(body: dict[str, object]) -> dict[str, str]:
    """A plan body (tests.support.plans.plan_body) as the console's form sends it."""
    form = {k: str(v) for k, v in body.items() if k not in ("free_shipping", "monthly_coupon")}
    return {**form, "free_shipping": "1" if body.get("free_shipping") else "", "active": "1"}


@recipe("POST /console/plans", Role.ADMIN)
async def plan_create(stage: Stage, person: Person) -> Expected:
    body = plan_body()
    ok(await person.act("POST", "/console/plans", data=_plan_form(body)))
    listed = ok(await stage.admin.get("/api/v1/plans")).json()
    return Expected("plan.create", "plan", next(p["id"] for p in listed if p["code"] == body["code"]))


@recipe("POST /console/plans/{plan_id}", Role.ADMIN)
async def plan_update(stage: Stage, person: Person) -> Expected:
    body = plan_body()
    plan_id = ok(await stage.admin.post("/api/v1/plans", json=body)).json()["id"]
    ok(await person.act("POST", f"/console/plans/{plan_id}", data=_plan_form(body | {"price": "99.00"})))
    return Expected("plan.update", "plan", plan_id)


@recipe("POST /console/tiers/policy", Role.ADMIN)
async def tiers_policy(stage: Stage, person: Person) -> Expected:
    """Saves the policy as it is (every other test that changes it puts it back), audited all the same."""
    policy = ok(await stage.admin.get("/api/v1/tiers/policy")).json()
    form = {name: str(policy[name]) for name in TierPolicyIn.model_fields}
    ok(await person.act("POST", "/console/tiers/policy", data=form))
    return Expected("tiers.policy.update", "tier_policy", "policy")


@recipe("POST /console/tiers/ladder", Role.ADMIN)
async def tiers_ladder(stage: Stage, person: Person) -> Expected:
    """Saves the ladder as it is, row by row as the form sends it."""
    ladder = ok(await stage.admin.get("/api/v1/tiers")).json()["tiers"]
    form = {
        f"tier-{i}-{name}": "; ".join(tier[name]) if name == "benefits" else str(tier[name])
        for i, tier in enumerate(ladder)
        for name in ("code", "name", "min_spend_exclusive", "earn_multiplier", "benefits")
    }
    ok(await person.act("POST", "/console/tiers/ladder", data=form))
    return Expected("tiers.replace", "tiers", "ladder")
