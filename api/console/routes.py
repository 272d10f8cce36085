"""The console's landing page. The full console (dashboard, member 360, inbox, campaigns) builds on it."""

from __future__ import annotations

from html import escape

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from api.deps import SettingsDep

router = APIRouter(prefix="/console", include_in_schema=False)


@router.get("", response_class=HTMLResponse)
async def console_home(settings: SettingsDep) -> HTMLResponse:
    ui = escape(settings.temporal.ui_url)
    return HTMLResponse(
        f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>memberflow console</title>
<style>body{{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;line-height:1.5}}</style></head>
<body><h1>memberflow</h1>
<p>The member lifecycle and loyalty service is running.</p>
<ul>
<li><a href="/docs">HTTP API reference</a> (OpenAPI)</li>
<li><a href="{ui}">Temporal UI</a>: journeys and other workflows</li>
<li><a href="/readyz">Readiness</a> and <a href="/metrics">metrics</a></li>
</ul></body></html>"""
    )
