"""The demo brand's plan: who each member is and what they did, drawn from a seeded generator, no database."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Literal
from zoneinfo import ZoneInfo

from services.intake.events import EventType

EXTERNAL_PREFIX = "demo-"
ORDER_SOURCE = "demo"
CURRENCY = "CNY"
# Members who joined this recently are imported live: their welcome (and first-purchase) journeys start.
LIVE_DAYS = 7
# Events the API accepts are at most 366 days old; the plan keeps a margin for a run that starts later.
EVENT_WINDOW_DAYS = 360

_ZH_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁沈"
_ZH_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红鹏飞琳晨宇欣怡浩然梓涵子轩雨佳俊博文思"
_EN_FIRST = (
    "Olivia Emma Amelia Sophia Isla Ava Mia Grace Lily Chloe Oliver George Harry Noah Jack Leo Arthur Oscar "
    "Charlie Henry James William Thomas Lucas Ethan Daniel Samuel Ruby Ella Zoe Hannah Jacob Ryan Nathan"
).split()
_EN_LAST = (
    "Smith Jones Taylor Brown Williams Wilson Johnson Davies Robinson Wright Thompson Evans Walker White Roberts "
    "Green Hall Wood Jackson Clarke Patel Khan Lewis Harris Martin Cooper King Baker Scott Young Turner Hill"
).split()
_ZH_TIMEZONES = ["Asia/Shanghai"] * 8 + ["Asia/Hong_Kong", "Asia/Singapore"]
_EN_TIMEZONES = ["Europe/London", "America/New_York", "America/Los_Angeles", "Australia/Sydney", "Asia/Singapore"]
_TAGS = ["wechat", "app_user", "newsletter", "store_visitor", "gift_buyer", "sports", "beauty", "home"]

# (sku, name, category, price in CNY)
CATALOG: list[tuple[str, str, str, Decimal]] = [
    ("TEA-01", "Jasmine tea gift box", "grocery", Decimal("68.00")),
    ("MUG-02", "Ceramic mug", "home", Decimal("39.00")),
    ("SOCK-03", "Merino socks (3 pairs)", "apparel", Decimal("89.00")),
    ("TSH-04", "Organic cotton T-shirt", "apparel", Decimal("129.00")),
    ("CRM-05", "Hydrating face cream", "beauty", Decimal("219.00")),
    ("SNK-06", "Running shoes", "sports", Decimal("599.00")),
    ("BAG-07", "Leather backpack", "accessories", Decimal("899.00")),
    ("JKT-08", "Down jacket", "apparel", Decimal("1299.00")),
    ("WAT-09", "Smart watch", "electronics", Decimal("1899.00")),
    ("COF-10", "Espresso machine", "home", Decimal("2999.00")),
]
_CHEAP, _PRICEY = CATALOG[:6], CATALOG[4:]

# Chinese New Year's Day, for the pre-holiday peak and the holiday dip.
_NEW_YEAR = {
    2023: date(2023, 1, 22),
    2024: date(2024, 2, 10),
    2025: date(2025, 1, 29),
    2026: date(2026, 2, 17),
    2027: date(2027, 2, 6),
    2028: date(2028, 1, 26),
    2029: date(2029, 2, 13),
    2030: date(2030, 2, 3),
}
_WEEKDAY = [0.85, 0.85, 0.9, 0.95, 1.1, 1.35, 1.3]  # Monday .. Sunday

Persona = Literal["loyal", "churner", "one_time", "browser"]


def season_weight(day: date) -> float:
    """How much busier than an ordinary day: the weekly rhythm times 11.11, 6.18, Chinese New Year and
    Christmas."""
    weight = _WEEKDAY[day.weekday()]
    if day.month == 11 and day.day == 11:
        weight *= 6.0
    elif day.month == 11 and 1 <= day.day <= 12:
        weight *= 1.6
    elif day.month == 6 and 16 <= day.day <= 18:
        weight *= 2.5
    elif day.month == 12 and 10 <= day.day <= 24:
        weight *= 1.8
    new_year = _NEW_YEAR.get(day.year)
    if new_year is not None:
        if new_year - timedelta(days=14) <= day < new_year:
            weight *= 2.0
        elif new_year <= day <= new_year + timedelta(days=6):
            weight *= 0.5
    return weight


_MAX_WEIGHT = 6.0 * max(_WEEKDAY) * 2.0


@dataclass(frozen=True)
class PlannedOrder:
    external_id: str
    placed_at: datetime
    items: list[dict[str, Any]]
    amount: Decimal
    refund: tuple[str, Decimal, datetime] | None  # (refund id, amount, refunded at)
    review: tuple[str, int, datetime] | None  # (review id, stars, posted at)


@dataclass(frozen=True)
class PlannedEvent:
    event_id: str
    type: EventType
    occurred_at: datetime
    properties: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PlannedMember:
    index: int
    external_id: str
    profile: dict[str, Any]  # a MemberCreate body
    joined_at: datetime
    tags: list[str]
    persona: Persona
    high_spender: bool
    orders: list[PlannedOrder]
    events: list[PlannedEvent]
    redeem_small: int  # how many catalog redemptions below the approval threshold to try

    @property
    def live(self) -> bool:
        """Joined in the last days: imported as a new sign-up, so today's journeys apply."""
        return self.joined_at >= datetime.now(UTC) - timedelta(days=LIVE_DAYS)


def external_id(index: int) -> str:
    return f"{EXTERNAL_PREFIX}{index:06d}"


def _poisson(rng: random.Random, mean: float) -> int:
    if mean <= 0:
        return 0
    if mean > 30:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def _seasonal_day(rng: random.Random, start: date, end: date) -> date:
    """A day in [start, end], more likely on busy days (rejection sampling against the season weight)."""
    span = (end - start).days
    for _ in range(200):
        day = start + timedelta(days=rng.randint(0, span))
        if rng.random() * _MAX_WEIGHT <= season_weight(day):
            return day
    return start + timedelta(days=rng.randint(0, span))


def _local_moment(rng: random.Random, day: date, zone: str, now: datetime, earliest: datetime) -> datetime:
    """Shopping hours in the member's own time zone, never in the future nor before `earliest`."""
    local = datetime.combine(day, time(rng.randint(9, 22), rng.randint(0, 59), rng.randint(0, 59)), ZoneInfo(zone))
    moment = local.astimezone(UTC)
    return min(max(moment, earliest + timedelta(minutes=5)), now - timedelta(minutes=30))


def _name(rng: random.Random, chinese: bool) -> str:
    if chinese:
        given = "".join(rng.choice(_ZH_GIVEN) for _ in range(rng.choice((1, 2, 2))))
        return rng.choice(_ZH_SURNAMES) + given
    return f"{rng.choice(_EN_FIRST)} {rng.choice(_EN_LAST)}"


def _items(rng: random.Random, high_spender: bool) -> tuple[list[dict[str, Any]], Decimal]:
    shelf = _PRICEY if high_spender and rng.random() < 0.7 else _CHEAP
    lines: list[dict[str, Any]] = []
    total = Decimal("0")
    for sku, name, category, price in rng.sample(shelf, k=rng.choice((1, 1, 1, 2, 2, 3))):
        quantity = rng.choice((1, 1, 1, 2))
        lines.append({"sku": sku, "name": name, "quantity": quantity, "unit_price": str(price), "category": category})
        total += price * quantity
    return lines, total


def plan_member(seed: int, index: int, *, now: datetime, years: int) -> PlannedMember:
    """Everything member `index` did, the same for the same seed (each member has its own generator, so a
    member's plan does not depend on which others were generated before it)."""
    rng = random.Random(f"memberflow-demo:{seed}:{index}")
    ext = external_id(index)
    span_days = 365 * years
    # A growing brand: more members joined recently than at the start.
    joined_at = now - timedelta(days=span_days * (1 - rng.random()) ** 1.3, seconds=rng.randint(0, 86_399))
    joined_at = min(joined_at, now - timedelta(hours=1))
    chinese = rng.random() < 0.6
    zone = rng.choice(_ZH_TIMEZONES if chinese else _EN_TIMEZONES)
    name = _name(rng, chinese)
    handle = f"m{index:06d}" if chinese else name.lower().replace(" ", ".") + str(index)
    profile: dict[str, Any] = {
        "external_id": ext,
        "name": name,
        "timezone": zone,
        "locale": "zh-CN" if chinese else "en",
        "consent": {"email": rng.random() < 0.65, "sms": rng.random() < (0.55 if chinese else 0.25)},
    }
    if rng.random() < 0.9:
        profile["email"] = f"{handle}@{rng.choice(('example.com', 'example.org', 'example.net'))}"
    if rng.random() < 0.7:
        profile["phone"] = (
            f"+86{rng.choice((138, 139, 150, 186, 188))}{rng.randint(0, 99_999_999):08d}"
            if chinese
            else f"+44{rng.randint(7_000_000_000, 7_999_999_999)}"
        )
    if rng.random() < 0.75:
        profile["birthday"] = date(rng.randint(1960, 2006), rng.randint(1, 12), rng.randint(1, 28)).isoformat()
    tags = sorted(set(rng.sample(_TAGS, k=rng.choice((0, 0, 1, 1, 2, 3)))))

    roll = rng.random()
    persona: Persona = "loyal" if roll < 0.25 else "churner" if roll < 0.7 else "one_time" if roll < 0.9 else "browser"
    high_spender = persona in ("loyal", "churner") and rng.random() < 0.12
    start = joined_at.date()
    active_until = now.date()
    monthly = {"loyal": 1.1, "churner": 0.9, "one_time": 0.0, "browser": 0.0}[persona]
    if persona == "churner":
        active_until = min(active_until, start + timedelta(days=int(30 * (1 + rng.expovariate(1 / 4)))))
    months = max((active_until - start).days, 1) / 30.4
    count = _poisson(rng, monthly * months) if persona in ("loyal", "churner") else 1 if persona == "one_time" else 0
    if persona in ("loyal", "churner"):
        count = max(count, 1)
    event_floor = now - timedelta(days=EVENT_WINDOW_DAYS)
    days = sorted(_seasonal_day(rng, start, active_until) for _ in range(count))
    planned: list[PlannedOrder] = []
    for number, day in enumerate(days, start=1):
        placed_at = _local_moment(rng, day, zone, now, joined_at)
        items, amount = _items(rng, high_spender)
        order_ext = f"{ext}-o{number:03d}"
        refund = None
        roll = rng.random()
        if roll < 0.08:
            refunded_at = placed_at + timedelta(days=rng.randint(2, 14), hours=rng.randint(0, 23))
            if refunded_at < now - timedelta(minutes=30):
                share = Decimal(1) if roll < 0.04 else Decimal(rng.randint(20, 70)) / 100
                refund = (f"{order_ext}-r1", (amount * share).quantize(Decimal("0.01")), refunded_at)
        review = None
        if refund is None and rng.random() < 0.2:
            posted_at = placed_at + timedelta(days=rng.randint(3, 20), hours=rng.randint(0, 12))
            if event_floor < posted_at < now - timedelta(minutes=30):
                review = (f"{order_ext}-rv", rng.choice((5, 5, 5, 4, 4, 3, 2, 1)), posted_at)
        planned.append(PlannedOrder(order_ext, placed_at, items, amount, refund, review))

    events: list[PlannedEvent] = []
    check_from = max(joined_at, event_floor)
    check_until = datetime.combine(active_until, time(23, 0), UTC) if persona == "churner" else now
    check_ins = _poisson(rng, {"loyal": 4.0, "churner": 1.5, "one_time": 0.7, "browser": 0.4}[persona])
    if check_until > check_from + timedelta(days=1):
        for number in range(1, check_ins + 1):
            day = _seasonal_day(rng, check_from.date() + timedelta(days=1), check_until.date())
            at = _local_moment(rng, day, zone, now, check_from)
            events.append(PlannedEvent(f"{ext}-c{number:03d}", EventType.CHECKED_IN, at))
    for order in planned:
        if order.review is not None:
            review_id, stars, at = order.review
            events.append(
                PlannedEvent(review_id, EventType.REVIEW_POSTED, at, {"review_id": review_id, "rating": stars})
            )
    if joined_at > event_floor and rng.random() < 0.5:
        at = min(joined_at + timedelta(hours=rng.randint(1, 72)), now - timedelta(minutes=30))
        events.append(PlannedEvent(f"{ext}-profile", EventType.PROFILE_COMPLETED, at))
    redeem_small = rng.choice((0, 0, 1, 1, 2)) if persona in ("loyal", "churner") else 0
    return PlannedMember(
        index=index,
        external_id=ext,
        profile=profile,
        joined_at=joined_at,
        tags=tags,
        persona=persona,
        high_spender=high_spender,
        orders=planned,
        events=events,
        redeem_small=redeem_small,
    )
