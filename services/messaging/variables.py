"""The variables a message template may use: the built-in ones and `attributes.<key>` for every custom member
field, with the labels the editors show beside them (`available_variables`), and the member's field values
as the template sees them (`attribute_values`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from types import SimpleNamespace
from typing import Any

from jinja2 import Environment, TemplateSyntaxError, meta
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from models import Member, MemberField, MessageTemplate, Reward
from services.loyalty import expiries
from services.members.fields import FieldType

# Rewards listed in `affordable_rewards`: a message, not the catalog.
AFFORDABLE_REWARDS = 5
# The variables read from the ledger and the catalog only when a template uses them (services.messaging.copy_loyalty).
LOYALTY_VARIABLES = ("expiry", "affordable_rewards")

# What template_variables gives every template (services.messaging.templates), in the order editors list them.
BUILTIN_VARIABLES: tuple[tuple[str, str], ...] = (
    ("member.name", "Member's name"),
    ("member.tier", "Tier code"),
    ("member.tier_name", "Tier name"),
    ("member.points", "Available points"),
    ("member.locale", "Member's locale"),
    ("coupon.code", "Coupon code"),
    ("coupon.discount", "Coupon discount (10% or 5.00)"),
    ("coupon.discount_zh", "Coupon discount, the Chinese way (9折, 立减5.00元)"),
    ("coupon.expires_on", "Coupon expiry date"),
    ("brand", "Brand name"),
    ("portal_link", "Link that signs the member in to the portal (short-lived)"),
    ("survey_link", "A survey invitation's answer page (signed, for that one send)"),
    ("expiry.points", "Points expiring on the reminder's date (else the next expiry date)"),
    ("expiry.expires_on", "The date the reminder is for (else the next date points expire)"),
    ("expiry.total", "All points still to expire"),
    ("affordable_rewards", f"Up to {AFFORDABLE_REWARDS} rewards the available points pay for (name, points_cost)"),
    ("tier_review.tier_name", "Tier at risk at the next review"),
    ("tier_review.would_become_name", "Tier the review would give"),
    ("tier_review.amount_needed", "Spend (or points) still needed to keep the tier"),
    ("tier_review.review_on", "Date of the tier review"),
)


class OptionList(list[str]):
    """A multi-select value: a list for `{% if "x" in ... %}` and loops, printed as "a, b" rather than as
    Python's ['a', 'b']."""

    def __str__(self) -> str:
        return ", ".join(self)


def available_variables(fields: Iterable[MemberField]) -> list[tuple[str, str]]:
    """(variable, label) for the editors: the built-in ones, then `attributes.<key>` per custom field (its
    English label)."""
    return [*BUILTIN_VARIABLES, *((f"attributes.{field.key}", field.label_en) for field in fields)]


def _shown(field: MemberField, value: Any) -> Any:
    if value is None:
        return ""
    if field.type == FieldType.MULTI_SELECT and isinstance(value, list):
        return OptionList(str(item) for item in value)
    return value


def attribute_values(fields: Iterable[MemberField], attributes: Mapping[str, Any] | None) -> SimpleNamespace:
    """`attributes` in a template: one attribute per defined field, the member's value or "" when they hold
    none (so `{{ attributes.shoe_size }}` prints nothing rather than failing the message). A key no field
    defines is not there, so a typo still fails as any unknown variable does. A namespace rather than a dict,
    so a field called `items` or `keys` is the field, not a dict method."""
    held = attributes or {}
    return SimpleNamespace(**{field.key: _shown(field, held.get(field.key)) for field in fields})


_PARSER = Environment()  # only parses: templates render in services.messaging.templates' sandbox


def used_names(template: MessageTemplate) -> set[str]:
    """The top-level variables a stored template refers to, so a send reads only the costly ones it needs."""
    names: set[str] = set()
    for source in (template.subject, template.body):
        if source:
            try:
                names |= meta.find_undeclared_variables(_PARSER.parse(source))
            except TemplateSyntaxError:
                continue  # rendering reports it
    return names


# The template data key of the date a `points_expiring` reminder was fired for (the journey run's trigger facts).
FIRED_FOR = "event.expires_on"


def _fired_for(data: Mapping[str, str] | None) -> date | None:
    raw = (data or {}).get(FIRED_FOR)
    try:
        return date.fromisoformat(raw) if raw else None
    except ValueError:
        return None


async def _expiry(session: AsyncSession, member: Member, on: date | None) -> dict[str, Any] | None:
    """The expiry a message names: the date its reminder was fired for (`on`), with what is left of it now (0
    when it was all spent since), or else the next date points expire."""
    # Every date listed when the message is for one of them: a member with a lot per order may have many before it.
    limit = expiries.SCHEDULE_ROWS if on is None else 100_000
    upcoming = await expiries.schedule(session, member.id, zone=expiries.zone_of(member.timezone), limit=limit)
    if on is not None:
        points = next((row.points for row in upcoming.dates if row.expires_on == on), 0)
        return {"points": points, "expires_on": on.isoformat(), "total": upcoming.total}
    if not upcoming.dates:
        return None
    first = upcoming.dates[0]
    return {"points": first.points, "expires_on": first.expires_on.isoformat(), "total": upcoming.total}


async def _affordable(session: AsyncSession, available: int) -> list[dict[str, Any]]:
    rows = await session.execute(
        select(Reward.name, Reward.points_cost)
        .where(
            Reward.active.is_(True),
            Reward.points_cost <= available,
            or_(Reward.stock.is_(None), Reward.stock > 0),
        )
        .order_by(Reward.points_cost.desc(), Reward.name)
        .limit(AFFORDABLE_REWARDS)
    )
    return [{"name": row.name, "points_cost": row.points_cost} for row in rows]


async def loyalty_values(
    session: AsyncSession,
    member: Member,
    available: int,
    wanted: Iterable[str] | None,
    data: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """`expiry` and `affordable_rewards` as of now, each read only when the template uses it (`wanted`; None:
    all, as a preview shows them). `expiry` names the date a reminder was fired for when the send's `data` has
    it (a `points_expiring` journey run passes its trigger's `event.expires_on`), else the next one."""
    names = set(LOYALTY_VARIABLES if wanted is None else wanted)
    values: dict[str, Any] = {}
    if "expiry" in names:
        values["expiry"] = await _expiry(session, member, _fired_for(data))
    if "affordable_rewards" in names:
        values["affordable_rewards"] = await _affordable(session, available)
    return values
