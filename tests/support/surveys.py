"""Survey helpers: definition bodies with fresh keys (surveys are global rows shared by every test), and the
answer link read out of a message the SMTP sink caught."""

from __future__ import annotations

import re
import uuid
from typing import Any

SURVEY_LINK = re.compile(r"https?://[^\s\"'<>]+/portal/s/([A-Za-z0-9_-]+)")


def survey_key(prefix: str = "sv") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def nps_body(key: str | None = None, **overrides: Any) -> dict[str, Any]:
    return {
        "key": key or survey_key("nps"),
        "kind": "nps",
        "title": {"en": "How did we do?", "zh-CN": "请评价我们的服务"},
        "prompt": {"en": "How likely are you to recommend us to a friend?", "zh-CN": "您有多大可能向朋友推荐我们？"},
        **overrides,
    }


def custom_body(key: str | None = None, **overrides: Any) -> dict[str, Any]:
    def label(en: str, zh: str) -> dict[str, str]:
        return {"en": en, "zh-CN": zh}

    return {
        "key": key or survey_key("cu"),
        "kind": "custom",
        "title": label("Your visit", "您的到店体验"),
        "prompt": label("Three quick questions about your visit.", "关于您到店体验的三个小问题。"),
        "questions": [
            {
                "key": "store",
                "type": "single_select",
                "label": label("Which store?", "哪家门店？"),
                "required": True,
                "options": ["shanghai", "beijing"],
            },
            {"key": "visits", "type": "number", "label": label("Visits this year", "今年到店次数"), "required": True},
            {"key": "visited_on", "type": "date", "label": label("When?", "哪天？")},
            {
                "key": "again",
                "type": "boolean",
                "label": label("Would you come again?", "还会再来吗？"),
                "required": True,
            },
            {
                "key": "liked",
                "type": "multi_select",
                "label": label("What did you like?", "您喜欢什么？"),
                "options": ["staff", "products", "prices"],
            },
            {"key": "note", "type": "text", "label": label("Anything else?", "其他建议？")},
        ],
        **overrides,
    }


def link_token(text: str) -> str:
    """The token of the survey link in a message's text; AssertionError when there is none."""
    found = SURVEY_LINK.search(text)
    assert found, f"no survey link in: {text[:500]}"
    return found.group(1)
