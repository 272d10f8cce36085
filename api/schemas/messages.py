"""Message log, message template and SMS reply shapes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from api.pagination import Page
from models import Message, MessageTemplate
from services.messaging import Category
from services.messaging.templates import Channel, LocaleTag, Rendered, TemplateKey
from services.privacy.masking import View


class MessageSummaryOut(BaseModel):
    """A message as the member 360 view lists it."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    channel: str
    template: str
    category: str
    journey_kind: str | None
    status: str
    reason: str | None
    created_at: datetime
    sent_at: datetime | None


class MessageOut(MessageSummaryOut):
    message_key: str
    member_id: uuid.UUID
    locale: str | None
    campaign_id: str | None
    subject: str | None
    # The rendered template: an HTML fragment for email (without the layout), the text for SMS.
    body: str | None
    provider: str | None
    provider_message_id: str | None
    updated_at: datetime

    @classmethod
    def of(cls, message: Message, view: View) -> MessageOut:
        """The message as `view` shows its rendered texts and provider refusal."""
        out = cls.model_validate(message)
        out.subject = view.apply("messages", "subject", out.subject)
        out.body = view.apply("messages", "body", out.body)
        out.reason = view.apply("messages", "reason", out.reason)
        return out


class MessagePage(Page[MessageOut]):
    """Messages, newest first."""


class TemplateOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    key: str
    channel: str
    locale: str
    subject: str | None
    body: str
    updated_at: datetime
    updated_by: str

    @classmethod
    def of(cls, template: MessageTemplate) -> TemplateOut:
        return cls.model_validate(template)


class TemplatePreview(BaseModel):
    model_config = ConfigDict(extra="forbid")

    template: TemplateKey
    channel: Channel
    member_id: uuid.UUID
    # Default: the member's own locale (with fallback).
    locale: LocaleTag | None = None
    coupon_code: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)] | None = None
    # Marketing shows the unsubscribe footer (a placeholder link in a preview).
    category: Category = Category.MARKETING
    # Extra values a flow passes, e.g. {"reward_name": "Tea set"} for the redemption templates (`data.*`).
    context: dict[
        Annotated[str, StringConstraints(max_length=64)], Annotated[str, StringConstraints(max_length=500)]
    ] = Field(default_factory=dict, max_length=50)


class TemplatePreviewOut(BaseModel):
    template: str
    channel: str
    # The locale the template was found in, after fallback.
    locale: str
    subject: str | None
    # Email: the whole HTML document as sent; SMS: the text.
    body: str
    # Email: the plain-text alternative.
    text: str | None

    @classmethod
    def of(cls, key: str, channel: Channel, rendered: Rendered) -> TemplatePreviewOut:
        return cls(
            template=key,
            channel=channel.value,
            locale=rendered.locale,
            subject=rendered.subject,
            body=rendered.html if rendered.html is not None else rendered.body,
            text=rendered.text,
        )


class InboundSms(BaseModel):
    """An SMS reply, as the provider's webhook (or an adapter in front of it) forwards it."""

    model_config = ConfigDict(extra="forbid")

    sender: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=32)] = Field(alias="from")
    text: Annotated[str, StringConstraints(max_length=1600)]


class InboundSmsOut(BaseModel):
    # Whether the text was an opt-out keyword (STOP, UNSUBSCRIBE, 退订, TD, …).
    stop: bool
    # Members opted out of SMS by this reply (0 when they already were, or no member has the number).
    opted_out: int
