"""What the console's builders may offer: the templates, coupons, surveys, events, tiers, tags and member fields that
exist, and for journey and rule conditions each field with its type and the operators that fit it.

Pickers offer only what this catalog lists, so a marketer cannot pick a template that does not exist; the
server still validates everything that is saved (the catalog is a convenience, not a check)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.schemas.member_fields import MemberFieldOut
from models import Member, MemberField
from services import care, journeys, messaging
from services.definitions.conditions import FACT_TYPES, MEMBER_FACTS
from services.journeys.definition import EVENTS
from services.loyalty import tiers
from services.members import field_use, fields
from services.members.fields import FieldType
from services.messaging import templates
from services.rewards import coupons
from services.rules.definition import EVENT_FIELDS, LIMITS, PROPERTY_TRIGGERS, TIME_TRIGGERS, TRIGGERS
from services.segments.rfm import ALL_GROUPS

TAG_LIMIT = 200
MEMBER_FIELD_KEYS = {"key", "labels", "type", "options", "required", "personal_data"}

NUMERIC_OPS = ("eq", "ne", "gt", "gte", "lt", "lte", "exists")
CHOICE_OPS = ("eq", "ne", "in", "not_in", "exists")
# The operators each type of value takes (services.definitions.conditions.evaluate gives them their meaning).
OPS: dict[str, tuple[str, ...]] = {
    "number": NUMERIC_OPS,
    "money": NUMERIC_OPS,
    "days": NUMERIC_OPS,
    "date": NUMERIC_OPS,
    "tier": CHOICE_OPS,
    "locale": CHOICE_OPS,
    "select": CHOICE_OPS,
    "text": ("eq", "ne", "contains", "in", "not_in", "exists"),
    "tags": ("contains",),
    "multi_select": ("contains", "exists"),
    "boolean": ("eq",),
    "last_wait": ("eq",),
}
MEMBER_LABELS = {
    "tier": "Tier",
    "tags": "Tags",
    "lifetime_spend": "Lifetime spend",
    "order_count": "Orders",
    "days_since_last_purchase": "Days since last purchase",
    "days_since_signup": "Days since sign-up",
    "consent.email": "Email consent",
    "consent.sms": "SMS consent",
    "locale": "Locale",
    "birthday_month": "Birthday month",
}
# Rule event fields: (label, type).
EVENT_SPECS = {
    "event.amount": ("Order amount", "money"),
    "event.currency": ("Order currency", "text"),
    "event.first_purchase": ("First purchase", "boolean"),
    "event.item_count": ("Items in the order", "number"),
    "event.old_tier": ("Tier before", "tier"),
    "event.new_tier": ("Tier after", "tier"),
    "event.direction": ("Tier change direction", "select"),
    "event.days": ("Days inactive", "days"),
    "event.days_before": ("Days before (the birthday, the expiry)", "days"),
    "event.points": ("Points (expiring; a referral's reward)", "number"),
    "event.expires_on": ("Expiry date", "date"),
    "event.years": ("Years since sign-up", "number"),
    "event.tier": ("Tier at risk", "tier"),
    "event.would_become": ("Tier the review would give", "tier"),
    "event.amount_needed": ("Still needed to keep the tier", "number"),
    "event.review_on": ("Tier review date", "date"),
    "event.score": ("Survey score", "number"),
    "event.survey": ("Survey (key)", "text"),
    "event.kind": ("Survey kind", "select"),
    "event.reward": ("Referral reward kind", "select"),
    "event.plan": ("Paid plan (code)", "text"),
    "event.reason": ("Why the plan ended", "select"),
}
EVENT_OPTIONS = {
    "event.direction": ["up", "down"],
    "event.kind": ["nps", "csat", "custom"],
    "event.reward": ["points", "coupon", "none"],
    "event.reason": ["expired", "cancelled"],
}
# How a custom field's type reads in a condition (its operators: services.members.field_use.CONDITION_OPS).
FIELD_TYPES = {
    "text": "text",
    "number": "number",
    "date": "date",
    "boolean": "boolean",
    "single_select": "select",
    "multi_select": "multi_select",
}


@dataclass(frozen=True)
class FieldSpec:
    """One field a condition row may test."""

    field: str
    label: str
    type: str
    group: str
    ops: tuple[str, ...]
    options: list[str] | None = None
    # Rule event fields: the triggers whose events carry the field.
    triggers: list[str] | None = None
    # A field the marketer completes by typing the rest of its name (event properties).
    prefix: str | None = None


def _spec(field: str, label: str, kind: str, group: str, **extra: Any) -> FieldSpec:
    return FieldSpec(field=field, label=label, type=kind, group=group, ops=OPS[kind], **extra)


def _member_specs() -> list[FieldSpec]:
    return [_spec(name, MEMBER_LABELS[name], FACT_TYPES[name], "Member") for name in MEMBER_FACTS]


def custom_field_specs(defined: Iterable[MemberField], *, personal: bool) -> list[FieldSpec]:
    """Custom fields as condition fields `attributes.<key>`; without `personal`, the personal ones are left out
    (journey conditions: their facts would enter workflow history)."""
    return [
        FieldSpec(
            field=f"{field_use.ATTRIBUTE_PREFIX}{row.key}",
            label=row.label_en,
            type=FIELD_TYPES.get(row.type, "text"),
            group="Custom fields",
            ops=field_use.CONDITION_OPS[FieldType(row.type)],
            options=list(row.options) if row.options else None,
        )
        for row in defined
        if personal or not row.personal_data
    ]


def journey_specs(defined: Iterable[MemberField]) -> list[FieldSpec]:
    return [
        *_member_specs(),
        *custom_field_specs(defined, personal=False),
        _spec("last_wait", "How the last wait ended", "last_wait", "Journey", options=["event", "timeout"]),
    ]


def rule_specs(defined: Iterable[MemberField]) -> list[FieldSpec]:
    offered: dict[str, list[str]] = {}
    for trigger, names in EVENT_FIELDS.items():
        for name in names:
            offered.setdefault(name, []).append(trigger)
    return [
        *_member_specs(),
        _spec("birthday_month", MEMBER_LABELS["birthday_month"], "number", "Member"),
        *custom_field_specs(defined, personal=True),
        *(
            _spec(name, *EVENT_SPECS[name], "Event", triggers=triggers, options=EVENT_OPTIONS.get(name))
            for name, triggers in offered.items()
        ),
        _spec(
            "event.properties.",
            "Event property…",
            "text",
            "Event",
            prefix="event.properties.",
            triggers=list(PROPERTY_TRIGGERS),
        ),
    ]


def _trigger_params(trigger: str) -> list[str]:
    if trigger == "inactive_days":
        return ["days"]
    return ["days_before"] if trigger in TIME_TRIGGERS else []


async def tags_in_use(session: AsyncSession, limit: int = TAG_LIMIT) -> list[str]:
    """The tags members carry, most common first."""
    tag = func.unnest(Member.tags).label("tag")
    inner = select(tag).subquery()
    stmt = select(inner.c.tag).group_by(inner.c.tag).order_by(func.count().desc(), inner.c.tag).limit(limit)
    return list((await session.execute(stmt)).scalars().all())


async def catalog(session: AsyncSession) -> dict[str, Any]:
    """Everything the builders' pickers offer, as JSON."""
    defined = await fields.list_fields(session)
    message_templates: dict[tuple[str, str], list[str]] = {}
    for row in await templates.list_templates(session):
        message_templates.setdefault((row.channel, row.key), []).append(row.locale)
    return {
        "templates": [
            {"channel": channel, "name": name, "locales": locales}
            for (channel, name), locales in sorted(message_templates.items())
        ],
        "coupon_templates": [{"code": row.code, "name": row.name} for row in await coupons.list_templates(session)],
        "journeys": [{"kind": row.kind, "name": row.name} for row in await journeys.list_journeys(session)],
        # Only active surveys: a journey's send_survey step skips an inactive one.
        "surveys": [
            {"key": row.key, "kind": row.kind, "title": row.title_en}
            for row in await care.list_surveys(session)
            if row.active
        ],
        "journey_events": list(EVENTS),
        "rule_triggers": [
            {"event": trigger, "params": _trigger_params(trigger), "properties": trigger in PROPERTY_TRIGGERS}
            for trigger in TRIGGERS
        ],
        "rule_limits": list(LIMITS),
        "tiers": [{"code": row.code, "name": row.name} for row in await tiers.ladder(session)],
        "tags": await tags_in_use(session),
        "locales": sorted({locale for locales in message_templates.values() for locale in locales}),
        "rfm_segments": list(ALL_GROUPS),
        "template_variables": [
            {"name": name, "label": label} for name, label in messaging.available_variables(defined)
        ],
        "member_fields": [MemberFieldOut.of(row).model_dump(mode="json", include=MEMBER_FIELD_KEYS) for row in defined],
        "condition_fields": {
            "journey": [asdict(spec) for spec in journey_specs(defined)],
            "rule": [asdict(spec) for spec in rule_specs(defined)],
        },
    }
