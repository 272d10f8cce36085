"""Rendering the portal's pages: its own Jinja templates (autoescaped), the brand from settings, the member's
language, and the small form reader its POSTs use. No script anywhere: the pages work in any app's web view
under the app's Content-Security-Policy (api/security_headers.py), and brand colours are CSS variables."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from api.portal import i18n
from core.settings import Settings

HERE = Path(__file__).resolve().parent
MAX_FORM_BYTES = 16 * 1024
NO_STORE = {"Cache-Control": "no-store"}


def _amount(value: Decimal | int | None) -> str:
    if value is None:
        return ""
    return f"{value:,.2f}" if isinstance(value, Decimal) else f"{value:,}"


def _signed(value: int) -> str:
    return f"+{value:,}" if value > 0 else f"{value:,}"


env = Environment(
    loader=FileSystemLoader(HERE / "templates"), autoescape=True, undefined=StrictUndefined, trim_blocks=True
)
env.filters.update(amount=_amount, signed=_signed)


@dataclass(frozen=True)
class Brand:
    name: str
    logo_url: str | None
    primary: str
    accent: str


def brand(settings: Settings) -> Brand:
    portal = settings.portal
    return Brand(
        name=portal.brand_name or settings.messaging.brand_name,
        logo_url=portal.logo_url,
        primary=portal.primary_color,
        accent=portal.accent_color,
    )


def local_date(moment: datetime, zone: str) -> str:
    try:
        tz = ZoneInfo(zone)
    except (ValueError, KeyError):
        tz = ZoneInfo("UTC")
    return moment.astimezone(tz).date().isoformat()


def render(
    request: Request,
    template: str,
    *,
    locale: str,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    context.setdefault("signed_in", False)
    context.setdefault("csrf", "")
    context.setdefault("error", None)
    context.setdefault("notice", None)
    context.setdefault("active", template.removesuffix(".html"))
    html = env.get_template(template).render(
        request=request,
        t=i18n.translator(locale),
        locale=locale,
        other_locale="en" if locale == "zh-CN" else "zh-CN",
        brand=brand(request.app.state.settings),
        **context,
    )
    return HTMLResponse(html, status_code=status_code, headers=NO_STORE)


class FormError(Exception):
    """A POST body the portal cannot read."""


async def read_form(request: Request) -> dict[str, str]:
    """An urlencoded form as a dict of first values."""
    return {name: values[0] for name, values in (await read_form_lists(request, max_fields=20)).items()}


async def read_form_lists(request: Request, *, max_fields: int = 400) -> dict[str, list[str]]:
    """An urlencoded form with every value of each name (a multi select posts one per checked option)."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise FormError("form posts only")
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise FormError("the form is too large")
    try:
        return parse_qs(body.decode(), keep_blank_values=True, max_num_fields=max_fields)
    except (UnicodeDecodeError, ValueError) as exc:
        raise FormError("the form could not be read") from exc
