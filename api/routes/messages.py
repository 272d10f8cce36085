"""Messaging: the message log, templates (edit, preview), unsubscribe links and SMS replies."""

from __future__ import annotations

import html
import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse

from api.boundary import commit
from api.deps import CurrentKey, IntegrationKey, MarketerKey, SessionDep, SettingsDep
from api.pagination import MESSAGE_CURSOR, CursorQuery
from api.personal import UnmaskedQuery, audit_reveal, view_of
from api.schemas.common import ERROR_RESPONSES, json_error_responses
from api.schemas.messages import (
    InboundSms,
    InboundSmsOut,
    MessageOut,
    MessagePage,
    TemplateOut,
    TemplatePreview,
    TemplatePreviewOut,
)
from services import messaging
from services.messaging import MessageStatus, consent, templates
from services.messaging.templates import Channel, TemplatePut
from services.platform.audit import Actor
from services.privacy import masking

router = APIRouter(prefix="/api/v1", tags=["messages"], responses=ERROR_RESPONSES)
unsubscribe_router = APIRouter(tags=["unsubscribe"], responses=json_error_responses(400, 422))

KeyPath = Annotated[str, Path(pattern=r"^[a-z0-9_]{2,64}$", description="template key, e.g. `welcome`")]
LocalePath = Annotated[
    str, Path(pattern=r"^[a-z]{2,3}(-[A-Z][a-z]{3})?(-([A-Z]{2}|[0-9]{3}))?$", description="e.g. `en`, `zh-CN`")
]
# Unconstrained: any bad token is the same 400 from the service, not a validation 422.
TokenPath = Annotated[str, Path(description="the token from the link")]


@router.get("/messages", response_model=MessagePage, summary="The message log (newest first, cursor pagination)")
async def list_messages(
    request: Request,
    session: SessionDep,
    key: CurrentKey,
    member_id: uuid.UUID | None = None,
    status: MessageStatus | None = None,
    channel: Channel | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: CursorQuery = None,
    unmasked: UnmaskedQuery = False,
) -> MessagePage:
    view = view_of(key, unmasked)
    rows = await messaging.list_messages(
        session,
        member_id=member_id,
        status=status,
        channel=channel,
        limit=limit + 1,
        after=MESSAGE_CURSOR.decode(cursor),
    )
    page = MessagePage.of(rows, limit, MESSAGE_CURSOR, key=lambda m: m.id, item=lambda m: MessageOut.of(m, view))
    await audit_reveal(session, request, key, view, [m.member_id for m in page.items])
    return page


@router.get("/templates", response_model=list[TemplateOut], summary="Message templates, by key, channel and locale")
async def list_templates(
    session: SessionDep,
    _: CurrentKey,
    key: Annotated[str | None, Query(pattern=r"^[a-z0-9_]{2,64}$")] = None,
    channel: Channel | None = None,
) -> list[TemplateOut]:
    return [TemplateOut.of(t) for t in await templates.list_templates(session, key=key, channel=channel)]


@router.put(
    "/templates/{key}/{channel}/{locale}",
    response_model=TemplateOut,
    summary="Create or replace a message template (Jinja2; a syntax error is 422 naming the line)",
)
async def put_template(
    key: KeyPath, channel: Channel, locale: LocalePath, body: TemplatePut, session: SessionDep, marketer: MarketerKey
) -> TemplateOut:
    template = await templates.put_template(session, key, channel, locale, body, actor=Actor.of_key(marketer))
    out = TemplateOut.of(template)
    await commit(session)
    return out


@router.post(
    "/templates/preview", response_model=TemplatePreviewOut, summary="Render a template for a member, without sending"
)
async def preview_template(
    body: TemplatePreview, session: SessionDep, settings: SettingsDep, key: MarketerKey
) -> TemplatePreviewOut:
    # Rendered with the caller's view of the member: a template cannot print what the role may not read.
    view = view_of(key)
    open_keys = await masking.open_keys(session, view, [{"any": True}])
    rendered = await templates.preview(
        session,
        template=body.template,
        channel=body.channel,
        member_id=body.member_id,
        locale=body.locale,
        coupon_code=body.coupon_code,
        data=body.context,
        marketing=body.category == messaging.Category.MARKETING,
        brand=settings.messaging.brand_name,
        public_url=settings.messaging.public_url,
        shown=lambda variables: masking.template_variables(view, variables, open_keys),
    )
    return TemplatePreviewOut.of(body.template, body.channel, rendered)


@router.post("/sms/inbound", response_model=InboundSmsOut, summary="An SMS reply: STOP (退订, TD…) opts the number out")
async def inbound_sms(body: InboundSms, session: SessionDep, _: IntegrationKey) -> InboundSmsOut:
    count = await consent.handle_inbound_sms(session, body.sender, body.text, now=datetime.now(UTC))
    await commit(session)
    return InboundSmsOut(stop=consent.is_stop(body.text), opted_out=count)


_PAGES = {
    "en": ("Unsubscribed", "You are unsubscribed", "You will no longer receive marketing {channel} from us."),
    "zh": ("退订成功", "您已成功退订", "您将不再收到我们的营销{channel}。"),
}
_CHANNEL_NAMES = {"en": {"email": "email", "sms": "text messages"}, "zh": {"email": "邮件", "sms": "短信"}}


def _unsubscribed_page(result: consent.Unsubscribed) -> HTMLResponse:
    lang = "zh" if templates.language(result.locale) == "zh" else "en"
    title, heading, text = _PAGES[lang]
    line = html.escape(text.format(channel=_CHANNEL_NAMES[lang][result.channel]))
    page = (
        f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title></head>'
        '<body style="font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;">'
        f"<h1>{heading}</h1><p>{line}</p></body></html>"
    )
    return HTMLResponse(page)


@unsubscribe_router.get(
    "/u/{token}", response_class=HTMLResponse, summary="Unsubscribe link (no login; following it again changes nothing)"
)
async def unsubscribe(token: TokenPath, session: SessionDep, settings: SettingsDep) -> HTMLResponse:
    secret = settings.secret_key.get_secret_value() if settings.secret_key else None
    result = await consent.unsubscribe(session, secret, token, now=datetime.now(UTC))
    await commit(session)
    return _unsubscribed_page(result)


@unsubscribe_router.post(
    "/u/{token}", response_class=HTMLResponse, summary="One-click unsubscribe (RFC 8058 List-Unsubscribe-Post)"
)
async def unsubscribe_one_click(token: TokenPath, session: SessionDep, settings: SettingsDep) -> HTMLResponse:
    return await unsubscribe(token, session, settings)
