"""Previews for the journey editor: a template rendered as a send step would send it, for a sample member of the
brand or a placeholder one, in the locale the marketer picks. The coupon is a sample of the step's coupon template
(the real one is issued when the step runs), and the unsubscribe link is a placeholder that opts nobody out."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import InvalidInput, NotFound
from models import Coupon, CouponTemplate, Member
from services.messaging import templates
from services.messaging.templates import Channel, Rendered

SAMPLE_COUPON_CODE = "SAMPLE-CODE"
# A member no database holds: what a template shows when the marketer picks no one.
_PLACEHOLDER = {
    "en": {"name": "Alex Sample", "tier": "member", "tier_name": "Member", "points": 1200},
    "zh": {"name": "示例会员", "tier": "member", "tier_name": "会员", "points": 1200},
}


async def _sample_coupon(session: AsyncSession, code: str, zone_name: str) -> dict[str, str]:
    template = (await session.execute(select(CouponTemplate).where(CouponTemplate.code == code))).scalar_one_or_none()
    if template is None:
        raise NotFound(f"there is no coupon template {code!r}", code="coupon_template_not_found")
    sample = Coupon(code=SAMPLE_COUPON_CODE, expires_at=datetime.now(UTC) + timedelta(days=template.validity_days))
    return templates.coupon_variables(sample, template, templates.member_zone(zone_name))


async def _member_variables(
    session: AsyncSession, member_id: uuid.UUID | None, locale: str
) -> tuple[dict[str, Any], str]:
    """The template's `member` and the time zone coupons expire in: a real member's, or the placeholder's."""
    if member_id is None:
        lang = "zh" if templates.language(locale) == "zh" else "en"
        return {**_PLACEHOLDER[lang], "locale": locale}, "UTC"
    member = (await session.execute(select(Member).where(Member.id == member_id))).scalar_one_or_none()
    if member is None:
        raise NotFound(f"member {member_id} does not exist", code="member_not_found")
    seen = await templates.template_variables(session, member, coupon_code=None, data={}, brand="")
    return seen["member"], member.timezone


async def step_preview(
    session: AsyncSession,
    *,
    template: str,
    channel: Channel,
    locale: str,
    member_id: uuid.UUID | None,
    coupon_template: str | None,
    marketing: bool,
    brand: str,
    public_url: str,
) -> Rendered:
    """Render as a send step would, in `locale` (with the usual fallback); NotFound for an unknown template,
    coupon template or member, InvalidInput when the template cannot render."""
    found = await templates.resolve(session, template, channel, locale)
    if found is None:
        raise NotFound(f"there is no {channel} template {template!r}", code="template_not_found")
    member, zone = await _member_variables(session, member_id, locale)
    variables = {
        "member": member,
        "coupon": await _sample_coupon(session, coupon_template, zone) if coupon_template else None,
        "brand": brand,
        "data": {},
        "portal_link": public_url.rstrip("/") + templates.PREVIEW_PORTAL_PATH,
        "survey_link": public_url.rstrip("/") + templates.PREVIEW_SURVEY_PATH,
    }
    link = public_url.rstrip("/") + templates.PREVIEW_UNSUBSCRIBE_PATH
    try:
        return templates.render(found, variables, marketing=marketing, unsubscribe_url=link, brand=brand)
    except templates.RenderError as exc:
        raise InvalidInput(str(exc), code="template_render_error") from exc
