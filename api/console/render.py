"""Jinja2 rendering for the console (autoescaped) and the small form parser its POSTs use."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from pydantic import ValidationError

from api.console import assets, signing
from core.errors import problem_message

HERE = Path(__file__).resolve().parent
MAX_FORM_BYTES = 256 * 1024


def _when(value: datetime | None) -> str:
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M UTC")


def _num(value: int | Decimal | float | None) -> str:
    if value is None:
        return "–"
    if isinstance(value, Decimal | float) and value != int(value):
        return f"{value:,.2f}"
    return f"{int(value):,}"


def _pct(value: Decimal | float | None) -> str:
    return "–" if value is None else f"{float(value):.1%}"


# autoescape=True for every template: all data reaches HTML escaped unless it is Markup (our own SVG charts).
env = Environment(
    loader=FileSystemLoader(HERE / "templates"), autoescape=True, undefined=StrictUndefined, trim_blocks=True
)
env.filters.update(when=_when, num=_num, pct=_pct)
env.globals.update(bundle=assets.bundle)


# Console pages are never cached; their Content-Security-Policy and the other security headers come from
# api/security_headers.py, which gives every HTML page of the app the same ones.
SECURITY_HEADERS = {"Cache-Control": "no-store"}


def flash_to(request: Request, path: str, message: str) -> str:
    """`path` with a message for the next page, signed so a crafted link cannot put words in the console."""
    settings = request.app.state.settings
    sep = "&" if "?" in path else "?"
    return f"{path}{sep}flash={quote(message)}&fs={signing.mac(settings, 'flash.' + message)}"


def _flash(request: Request) -> str | None:
    message, signature = request.query_params.get("flash"), request.query_params.get("fs")
    if not message or not signature:
        return None
    return message if signing.verify(request.app.state.settings, "flash." + message, signature) else None


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    context.setdefault("user", None)
    context.setdefault("flash", _flash(request))
    context.setdefault("error", None)
    stem = template.removesuffix(".html")
    context.setdefault("active", {"member": "members", "journey": "journeys"}.get(stem, stem))
    html = env.get_template(template).render(request=request, **context)
    return HTMLResponse(html, status_code=status_code, headers=SECURITY_HEADERS)


class FormError(Exception):
    """A POST body the console cannot read (wrong type, too big)."""


async def read_form(request: Request, *, max_fields: int = 50) -> dict[str, str]:
    """An urlencoded form as a dict of first values (the console's forms never repeat a field); a form with a
    row per item (the tier ladder's) may allow more fields than the usual 50."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise FormError("the console accepts only form posts")
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise FormError("the form is too large")
    try:
        fields = parse_qs(body.decode(), keep_blank_values=True, max_num_fields=max_fields, strict_parsing=False)
    except (UnicodeDecodeError, ValueError) as exc:
        raise FormError("the form could not be read") from exc
    return {name: values[0] for name, values in fields.items()}


MAX_DEFINITION_CHARS = 100_000


def read_definition(draft: str) -> tuple[dict[str, Any] | None, list[dict[str, str]]]:
    """A definition typed into an editor's text area: the JSON object, or the problems with it, each naming the
    form field as the page shows it."""
    if len(draft) > MAX_DEFINITION_CHARS:
        return None, [{"field": "definition", "message": f"at most {MAX_DEFINITION_CHARS:,} characters"}]
    try:
        raw = json.loads(draft)
    except json.JSONDecodeError as exc:
        return None, [{"field": "definition", "message": f"not valid JSON: {exc.msg} (line {exc.lineno})"}]
    if not isinstance(raw, dict):
        return None, [{"field": "definition", "message": "must be a JSON object"}]
    return raw, []


def problem_lines(exc: ValidationError, *, label: str | None = None) -> list[str]:
    """A form's refused values as lines a person reads ("monthly_limit: Input should be greater than 0"): the
    field (or `label`, for a form that is one list of values), then the problem_message; a problem of the whole
    form has no field."""
    lines = []
    for error in exc.errors():
        where = label or ".".join(map(str, error["loc"]))
        message = problem_message(error)
        lines.append(f"{where}: {message}" if where else message)
    return lines
