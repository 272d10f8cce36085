"""Message templates: Jinja2 in a sandbox, per channel and locale, with locale fallback and the email layout.

Templates are data marketers edit, so they render in an immutable sandbox (no attribute access to internals,
bounded ranges), HTML email autoescaped, and with strict undefined variables so a typo fails the message
instead of sending a blank."""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from functools import lru_cache
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jinja2 import StrictUndefined, Template, TemplateError, TemplateSyntaxError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup
from pydantic import BaseModel, ConfigDict, StringConstraints
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import InvalidInput, NotFound
from models import Coupon, CouponTemplate, Member, MessageTemplate, Tier
from services.loyalty import ledger, tier_history
from services.members import fields as member_fields
from services.messaging.copy import BUILTIN_COPY
from services.messaging.copy_loyalty import LOYALTY_COPY
from services.messaging.variables import attribute_values, loyalty_values
from services.platform import audit
from services.platform.audit import Actor

FALLBACK_LOCALE = "en"
SEED_AUTHOR = "builtin"
PREVIEW_UNSUBSCRIBE_PATH = "/u/preview-unsubscribe-link"
PREVIEW_PORTAL_PATH = "/portal/l/preview-link"
PREVIEW_SURVEY_PATH = "/portal/s/preview-link"


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"


TemplateKey = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]{2,64}$")]
LocaleTag = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(-[A-Z][a-z]{3})?(-([A-Z]{2}|[0-9]{3}))?$")]


class TemplatePut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Email only (a header line: no line breaks).
    subject: Annotated[str, StringConstraints(min_length=1, max_length=300, pattern=r"^[^\r\n]*$")] | None = None
    body: Annotated[str, StringConstraints(min_length=1, max_length=100_000)]


@dataclass(frozen=True)
class Rendered:
    locale: str
    subject: str | None
    # The rendered template: an HTML fragment for email (what the message log keeps), text for SMS.
    body: str
    # Email only: the whole document sent (layout, footer, unsubscribe link) and its plain-text alternative.
    html: str | None = None
    text: str | None = None


class RenderError(Exception):
    """A stored template could not be rendered (unknown variable, sandbox violation)."""


_HTML_ENV = ImmutableSandboxedEnvironment(autoescape=True, undefined=StrictUndefined)
_TEXT_ENV = ImmutableSandboxedEnvironment(autoescape=False, undefined=StrictUndefined)

_LAYOUT = """<!DOCTYPE html>
<html lang="{{ lang }}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{{ subject }}</title></head>
<body style="margin:0;padding:0;background:#f4f4f5;">
<div style="max-width:600px;margin:0 auto;padding:24px 28px;background:#ffffff;color:#18181b;font-size:16px;
line-height:1.6;font-family:-apple-system,'Segoe UI','PingFang SC','Microsoft YaHei',Helvetica,Arial,sans-serif;">
{{ content }}
<hr style="border:none;border-top:1px solid #e4e4e7;margin:28px 0 12px;">
<p style="font-size:12px;color:#71717a;">{{ footer }}{% if unsubscribe_url %}
<a href="{{ unsubscribe_url }}" style="color:#71717a;">{{ unsubscribe_label }}</a>{% endif %}</p>
</div></body></html>"""

_FOOTERS = {
    "en": {
        "marketing": "You receive this email as a member of {brand}. Don't want these emails?",
        "transactional": "This is a service message from {brand} about your account.",
        "unsubscribe": "Unsubscribe",
    },
    "zh": {
        "marketing": "您收到这封邮件，是因为您是{brand}的会员。不想再收到此类邮件？",
        "transactional": "这是{brand}发送的账户服务通知。",
        "unsubscribe": "退订",
    },
}
_SMS_OPT_OUT = {"en": " Reply STOP to opt out.", "zh": "回复TD退订"}
# An opt-out instruction already in the text ("Reply STOP …", "回复TD退订"), so none is appended.
_SMS_OPT_OUT_HINT = re.compile(r"(?i)\b(reply|text|send)\s+stop\b|退订")


def language(locale: str) -> str:
    return locale.split("-", 1)[0]


def locale_candidates(locale: str, available: set[str]) -> list[str]:
    """Preference order: the member's locale, its language (zh-CN → zh), another locale of the same
    language (zh-TW → zh-CN rather than English), then English."""
    lang = language(locale)
    same_language = sorted(loc for loc in available if language(loc) == lang)
    order = [locale, lang, *same_language, FALLBACK_LOCALE]
    return [loc for index, loc in enumerate(order) if loc in available and loc not in order[:index]]


@lru_cache(maxsize=512)
def _compile(source: str, autoescape: bool) -> Template:
    return (_HTML_ENV if autoescape else _TEXT_ENV).from_string(source)


def check_syntax(put: TemplatePut) -> None:
    """Reject a template that does not parse, naming the field and line."""
    problems: list[dict[str, Any]] = []
    for field, source in (("subject", put.subject), ("body", put.body)):
        if source is None:
            continue
        try:
            _TEXT_ENV.parse(source)
        except TemplateSyntaxError as exc:
            problems.append({"field": f"body.{field}", "line": exc.lineno, "message": exc.message or str(exc)})
    if problems:
        first = problems[0]
        raise InvalidInput(
            f"the template does not parse: {first['field']} line {first['line']}: {first['message']}",
            code="template_syntax_error",
            details=problems,
        )


def _render(source: str, variables: dict[str, Any], *, autoescape: bool) -> str:
    try:
        return _compile(source, autoescape).render(variables)
    except TemplateError as exc:
        raise RenderError(f"template error: {exc}") from exc


def _html_to_text(document: str) -> str:
    """A readable plain-text alternative: links keep their address, blocks become paragraphs."""
    body = re.sub(r"(?is)<(head|style|script)\b.*?</\1>", "", document)
    body = re.sub(r'(?is)<a\s[^>]*href="([^"]*)"[^>]*>(.*?)</a>', r"\2 (\1)", body)
    body = re.sub(r"(?i)<br\s*/?>", "\n", body)
    body = re.sub(r"(?i)</(p|h[1-6]|div|li|tr)>|<hr[^>]*>", "\n\n", body)
    text = html.unescape(re.sub(r"<[^>]+>", "", body))
    lines = [" ".join(line.split()) for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"


def render(
    template: MessageTemplate,
    variables: dict[str, Any],
    *,
    marketing: bool,
    unsubscribe_url: str | None,
    brand: str,
) -> Rendered:
    """Render one stored template. Marketing email gets the unsubscribe link in the layout's footer, and
    marketing SMS an opt-out line if its text has none, whatever the marketer wrote."""
    lang = "zh" if language(template.locale) == "zh" else "en"
    if template.channel == Channel.SMS:
        text = _render(template.body, variables, autoescape=False).strip()
        if marketing and not _SMS_OPT_OUT_HINT.search(text):
            text += _SMS_OPT_OUT[lang]
        return Rendered(locale=template.locale, subject=None, body=text)
    assert template.subject is not None
    subject = " ".join(_render(template.subject, variables, autoescape=False).split())
    content = _render(template.body, variables, autoescape=True)
    return email_document(
        template.locale, subject, content, marketing=marketing, unsubscribe_url=unsubscribe_url, brand=brand
    )


def email_document(
    locale: str, subject: str, content: str, *, marketing: bool, unsubscribe_url: str | None, brand: str
) -> Rendered:
    """An email's rendered template (`content`, already escaped) in the layout, with its plain-text part. A
    resend rebuilds the email from the content the message log kept, so it says what the first send said."""
    lang = "zh" if language(locale) == "zh" else "en"
    footers = _FOOTERS[lang]
    document = _render(
        _LAYOUT,
        {
            "lang": locale,
            "subject": subject,
            "content": Markup(content),  # already escaped: rendered with autoescape
            "footer": footers["marketing" if marketing else "transactional"].format(brand=brand),
            "unsubscribe_url": unsubscribe_url if marketing else None,
            "unsubscribe_label": footers["unsubscribe"],
        },
        autoescape=True,
    )
    return Rendered(locale=locale, subject=subject, body=content, html=document, text=_html_to_text(document))


# Variables


def member_zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f")


def coupon_variables(coupon: Coupon, template: CouponTemplate, zone: ZoneInfo) -> dict[str, str]:
    """`discount` reads "10%" or "5.00"; `discount_zh` the Chinese way ("9折": pay 90%, or "立减5.00元")."""
    value = template.value
    if template.kind == "percent":
        discount, pays = f"{_plain(value)}%", (Decimal(100) - value) / 10
        discount_zh = "免单" if pays <= 0 else f"{_plain(pays)}折"
    else:
        discount, discount_zh = f"{value:.2f}", f"立减{value:.2f}元"
    return {
        "code": coupon.code,
        "kind": template.kind,
        "value": _plain(value),
        "discount": discount,
        "discount_zh": discount_zh,
        "expires_on": coupon.expires_at.astimezone(zone).date().isoformat(),
    }


async def _coupon(session: AsyncSession, member: Member, code: str) -> dict[str, str]:
    row = (
        await session.execute(
            select(Coupon, CouponTemplate)
            .join(CouponTemplate, CouponTemplate.id == Coupon.template_id)
            .where(Coupon.code == code.strip().upper(), Coupon.member_id == member.id)
        )
    ).one_or_none()
    if row is None:
        raise NotFound(f"coupon {code} does not exist for this member", code="coupon_not_found")
    return coupon_variables(row[0], row[1], member_zone(member.timezone))


async def template_variables(
    session: AsyncSession,
    member: Member,
    *,
    coupon_code: str | None,
    data: dict[str, str],
    brand: str,
    extra: dict[str, str] | None = None,
    used: set[str] | None = None,
) -> dict[str, Any]:
    """What a template sees: member fields, the member's custom fields (`attributes.<key>`, "" when they hold
    no value), the coupon (or None), the brand, the caller's `data`, and `extra` (the portal link, a sign-in
    code) at the top level, and the loyalty values (`expiry`, `affordable_rewards`) when the template uses them
    (`used`, from variables.used_names; None: all). services.messaging.variables lists them for the editors. Raises
    NotFound when the coupon is not this member's."""
    tier_name = (await session.execute(select(Tier.name).where(Tier.code == member.tier))).scalar_one_or_none()
    points = (await ledger.balance(session, member.id)).available
    fields = await member_fields.list_fields(session)
    return {
        "attributes": attribute_values(fields, member.attributes),
        "member": {
            "name": member.name,
            "tier": member.tier,
            "tier_name": tier_name or member.tier,
            "points": points,
            "locale": member.locale,
        },
        "coupon": await _coupon(session, member, coupon_code) if coupon_code else None,
        "tier_review": await tier_history.at_risk_notice(session, member),
        "brand": brand,
        "data": dict(data),
        **await loyalty_values(session, member, points, used, data),
        **(extra or {}),
    }


async def preview(
    session: AsyncSession,
    *,
    template: str,
    channel: Channel,
    member_id: uuid.UUID,
    locale: str | None,
    coupon_code: str | None,
    data: dict[str, str],
    marketing: bool,
    brand: str,
    public_url: str,
    shown: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> Rendered:
    """Render a template for a member as it would be sent; the unsubscribe link is a placeholder, so a
    click in a preview cannot opt the member out. `shown` masks the variables for the caller's view."""
    member = (await session.execute(select(Member).where(Member.id == member_id))).scalar_one_or_none()
    if member is None:
        raise NotFound(f"member {member_id} does not exist", code="member_not_found")
    found = await resolve(session, template, channel, locale or member.locale)
    if found is None:
        raise NotFound(f"there is no {channel} template {template!r}", code="template_not_found")
    # Placeholders for what only a real send can sign: a link that signs nobody in, a code that opens nothing.
    placeholders = {
        "portal_link": public_url.rstrip("/") + PREVIEW_PORTAL_PATH,
        "sign_in_code": "000000",
        "survey_link": public_url.rstrip("/") + PREVIEW_SURVEY_PATH,
    }
    variables = await template_variables(
        session, member, coupon_code=coupon_code, data=data, brand=brand, extra=placeholders
    )
    if shown is not None:
        variables = shown(variables)
    link = public_url.rstrip("/") + PREVIEW_UNSUBSCRIBE_PATH
    try:
        return render(found, variables, marketing=marketing, unsubscribe_url=link, brand=brand)
    except RenderError as exc:
        raise InvalidInput(str(exc), code="template_render_error") from exc


# Repository


async def resolve(session: AsyncSession, key: str, channel: str, locale: str) -> MessageTemplate | None:
    """The template in the best available locale for `locale`, or None if the key has none on this channel."""
    rows = (
        (
            await session.execute(
                select(MessageTemplate).where(MessageTemplate.key == key, MessageTemplate.channel == channel)
            )
        )
        .scalars()
        .all()
    )
    by_locale = {row.locale: row for row in rows}
    candidates = locale_candidates(locale, set(by_locale))
    return by_locale[candidates[0]] if candidates else None


async def list_templates(
    session: AsyncSession, *, key: str | None = None, channel: str | None = None
) -> list[MessageTemplate]:
    stmt = select(MessageTemplate).order_by(MessageTemplate.key, MessageTemplate.channel, MessageTemplate.locale)
    if key is not None:
        stmt = stmt.where(MessageTemplate.key == key)
    if channel is not None:
        stmt = stmt.where(MessageTemplate.channel == channel)
    return list((await session.execute(stmt)).scalars().all())


async def put_template(
    session: AsyncSession, key: str, channel: Channel, locale: str, data: TemplatePut, *, actor: Actor
) -> MessageTemplate:
    """Create or replace one template after checking it parses; email needs a subject, SMS takes none."""
    if channel == Channel.EMAIL and data.subject is None:
        raise InvalidInput(
            "an email template needs a subject",
            details=[{"field": "body.subject", "message": "required for email"}],
        )
    if channel == Channel.SMS and data.subject is not None:
        raise InvalidInput(
            "an SMS template has no subject",
            details=[{"field": "body.subject", "message": "not allowed for sms"}],
        )
    check_syntax(data)
    values = {"subject": data.subject, "body": data.body, "updated_by": actor.name}
    await session.execute(
        insert(MessageTemplate)
        .values(key=key, channel=channel.value, locale=locale, **values)
        .on_conflict_do_update(index_elements=["key", "channel", "locale"], set_={**values, "updated_at": func.now()})
    )
    await audit.record(
        session,
        actor,
        action="template.put",
        target_type="message_template",
        target_id=f"{key}/{channel}/{locale}",
        details=data.model_dump(mode="json"),
    )
    return (
        await session.execute(
            select(MessageTemplate)
            .where(MessageTemplate.key == key, MessageTemplate.channel == channel, MessageTemplate.locale == locale)
            .execution_options(populate_existing=True)
        )
    ).scalar_one()


async def seed_builtin_templates(session: AsyncSession) -> int:
    """Insert the shipped templates that are missing; never overwrites an edited one. Returns how many."""
    rows = [
        {"key": key, "channel": channel, "locale": locale, "subject": copy.subject, "body": copy.body}
        for (key, channel), locales in (BUILTIN_COPY | LOYALTY_COPY).items()
        for locale, copy in locales.items()
    ]
    result = await session.execute(
        insert(MessageTemplate)
        .values([{**row, "updated_by": SEED_AUTHOR} for row in rows])
        .on_conflict_do_nothing(index_elements=["key", "channel", "locale"])
        .returning(MessageTemplate.key)
    )
    return len(result.all())
