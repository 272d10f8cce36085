"""The challenges memberflow ships with, seeded paused: switching one on is the marketer's decision (a new
release must not start paying points to every member of a running programme)."""

from __future__ import annotations

from typing import Any

BUILTIN_CHALLENGES: dict[str, dict[str, Any]] = {
    "starter_pack": {
        "title_en": "Starter pack: complete your profile, make a first purchase and check in on 3 days",
        "title_zh_cn": "新手礼包：完善资料、完成首单并签到3天",
        "enrolment": "signup",
        "window": {"kind": "relative", "days": 14},
        "goals": [
            {"kind": "profile_completed"},
            {"kind": "order_count", "target": "1"},
            {"kind": "checkin_days", "target": "3"},
        ],
        "reward": {"points": 300},
        "badge": {"code": "starter", "name_en": "Off to a good start", "name_zh_cn": "新手上路", "icon": "rocket"},
    },
    "monthly_spend_500": {
        "title_en": "Spend 500 this month",
        "title_zh_cn": "本月消费满500",
        "enrolment": "window_start",
        "window": {"kind": "month"},
        "goals": [{"kind": "spend", "target": "500"}],
        "reward": {"points": 200},
        "badge": {"code": "big_spender", "name_en": "Big spender", "name_zh_cn": "消费达人", "icon": "trophy"},
    },
    "monthly_two_orders": {
        "title_en": "Order twice this month",
        "title_zh_cn": "本月下单两次",
        "enrolment": "window_start",
        "window": {"kind": "month"},
        "goals": [{"kind": "order_count", "target": "2"}],
        "reward": {"points": 100},
    },
    "checkin_streak_7": {
        "title_en": "Check in 7 days in a row",
        "title_zh_cn": "连续签到7天",
        "enrolment": "opt_in",
        "window": {"kind": "relative", "days": 30},
        "goals": [{"kind": "checkin_streak", "target": "7"}],
        "reward": {"points": 70},
        "badge": {"code": "on_fire", "name_en": "On fire", "name_zh_cn": "连签达人", "icon": "flame"},
    },
}
