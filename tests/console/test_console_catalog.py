"""The builders' catalog (GET /console/api/catalog): what exists is offered (templates, coupons, tiers, tags,
custom fields), condition fields carry their types and operators, personal custom fields stay out of journey
conditions, and the console's JSON calls answer in the API's error envelope (401 without a session)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy import delete

from models import MemberField
from services.members import fields
from services.members.fields import FieldCreate
from services.platform.api_keys import Role
from services.platform.audit import Actor
from tests.support.console import Sessions, console_client, sign_in
from tests.support.helpers import ApiClient, KeyMaker, member_body

PREFIX = "cat_"


@pytest_asyncio.fixture(autouse=True)
async def _no_fields_left_behind(sessions: Sessions) -> AsyncIterator[None]:
    yield
    async with sessions() as session:
        await session.execute(delete(MemberField).where(MemberField.key.startswith(PREFIX)))
        await session.commit()


async def _define(sessions: Sessions, key: str, type_: str, **extra: Any) -> None:
    data = FieldCreate.model_validate({"key": key, "labels": {"en": key.title(), "zh-CN": key}, "type": type_, **extra})
    async with sessions() as session:
        await fields.create(session, data, actor=Actor.system("test"))
        await session.commit()


async def _catalog(app: FastAPI, secret: str) -> dict[str, Any]:
    async with console_client(app) as client:
        await sign_in(client, secret)
        answer = await client.get("/console/api/catalog")
    assert answer.status_code == 200, answer.text
    data: dict[str, Any] = answer.json()
    return data


async def test_the_catalog_offers_what_exists_with_typed_condition_fields(
    app: FastAPI, make_key: KeyMaker, sessions: Sessions, shop: ApiClient
) -> None:
    tag = f"cat_{uuid.uuid4().hex[:6]}"
    created = await shop.post("/api/v1/members", json={**member_body(), "tags": [tag]})
    assert created.status_code == 201, created.text
    size, nickname = f"{PREFIX}size_{uuid.uuid4().hex[:4]}", f"{PREFIX}nick_{uuid.uuid4().hex[:4]}"
    await _define(sessions, size, "single_select", options=["s", "m", "l"])
    await _define(sessions, nickname, "text", personal_data=True)

    data = await _catalog(app, await make_key(Role.MARKETER))

    assert {"channel": "email", "name": "welcome", "locales": ["en", "zh-CN"]} in data["templates"]
    assert "new_member_10" in {c["code"] for c in data["coupon_templates"]}
    assert "welcome" in {j["kind"] for j in data["journeys"]}
    assert "cart_abandoned" in data["journey_events"]
    assert {"event": "inactive_days", "params": ["days"], "properties": False} in data["rule_triggers"]
    assert {"event": "review_posted", "params": [], "properties": True} in data["rule_triggers"]
    assert data["tiers"]
    assert all(t["name"] for t in data["tiers"])
    assert tag in data["tags"]
    assert set(data["locales"]) >= {"en", "zh-CN"}
    assert "champions" in data["rfm_segments"]
    assert {f["key"] for f in data["member_fields"]} >= {size, nickname}
    variables = {v["name"]: v["label"] for v in data["template_variables"]}
    assert variables["member.name"] == "Member's name"
    assert variables[f"attributes.{size}"] == size.title()

    journey = {spec["field"]: spec for spec in data["condition_fields"]["journey"]}
    rule = {spec["field"]: spec for spec in data["condition_fields"]["rule"]}
    assert journey["lifetime_spend"]["type"] == "money"
    assert "gte" in journey["lifetime_spend"]["ops"]
    assert journey["tier"]["ops"] == ["eq", "ne", "in", "not_in", "exists"]
    assert journey["tags"]["ops"] == ["contains"]
    assert journey[f"attributes.{size}"] | {"ops": None} == {
        "field": f"attributes.{size}",
        "label": size.title(),
        "type": "select",
        "group": "Custom fields",
        "ops": None,
        "options": ["s", "m", "l"],
        "triggers": None,
        "prefix": None,
    }
    # A personal field's value would enter workflow history from a journey condition: rules only.
    assert f"attributes.{nickname}" not in journey
    assert rule[f"attributes.{nickname}"]["type"] == "text"
    assert "last_wait" in journey
    assert "last_wait" not in rule
    assert rule["event.amount"]["triggers"] == ["order_completed"]
    assert rule["event.new_tier"]["type"] == "tier"
    assert rule["event.properties."]["prefix"] == "event.properties."
    assert "review_posted" in rule["event.properties."]["triggers"]
    assert "order_completed" not in rule["event.properties."]["triggers"]


async def test_every_signed_in_role_reads_the_catalog_and_no_session_gets_a_401_envelope(
    app: FastAPI, make_key: KeyMaker
) -> None:
    for role in (Role.APPROVER, Role.OPS, Role.ADMIN):
        assert (await _catalog(app, await make_key(role)))["tiers"]
    async with console_client(app) as client:
        answer = await client.get("/console/api/catalog")
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "unauthorized"
