"""The member 360 view: the member with points and recent orders, ledger lines and messages.

Two readers: the console renders the ORM objects (`view`), and the API answers with JSON that PostgreSQL
builds in one statement (`view_json`) on the pool's driver connection. The API path was the slowest read
of the hot paths (six queries and an ORM load per request, 0.09 of a bare one-statement endpoint), so it
skips the session and the ORM: one round trip, no Python objects per row, and the text goes out as is.
The JSON is the same document `api.schemas.members.Member360Out` describes, value for value."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import NotFound
from models import Checkout, Member, Message, Order, TierChange
from services import members, messaging, plans, referrals
from services.loyalty import checkouts, expiries, ledger, tier_history
from services.referrals import codes

RECENT = 10


@dataclass(frozen=True)
class MemberView:
    member: Member
    points: ledger.Balance
    recent_orders: list[Order]
    recent_ledger: list[ledger.LedgerLine]
    recent_messages: list[Message]
    expiries: expiries.ExpirySchedule
    tier_history: list[TierChange]
    # Checkouts holding the member's points right now (points at checkout), soonest to time out first.
    open_checkouts: list[Checkout] = field(default_factory=list)
    # The paid plan active now, with its benefits (free shipping is what the shop reads); None without one.
    paid_plan: plans.MemberPlan | None = None
    # The member's referral code and link (made now if they had none), their referrer, the friends they referred.
    referral: referrals.ReferralSummary | None = None


async def view(session: AsyncSession, member_id: uuid.UUID, *, public_url: str | None = None) -> MemberView:
    """The 360 as ORM objects; `public_url` is the address the referral link starts with (the setting's when
    not given)."""
    member = await members.get(session, member_id)
    orders = await session.execute(
        select(Order)
        .where(Order.member_id == member_id)
        .order_by(Order.placed_at.desc(), Order.id.desc())
        .limit(RECENT)
    )
    return MemberView(
        member=member,
        points=await ledger.balance(session, member_id),
        recent_orders=list(orders.scalars().all()),
        recent_ledger=await ledger.statement(session, member_id, limit=RECENT),
        recent_messages=await messaging.recent_messages(session, member_id, limit=RECENT),
        expiries=await expiries.schedule(session, member_id, zone=expiries.zone_of(member.timezone)),
        tier_history=await tier_history.history(session, member_id, limit=RECENT),
        open_checkouts=await checkouts.open_for_member(session, member_id, limit=RECENT),
        paid_plan=await plans.current(session, member_id, datetime.now(UTC)),
        referral=await referrals.summary(session, member_id, public_url=public_url),
    )


def _ts(column: str) -> str:
    """A timestamptz as pydantic writes it: UTC with `Z`, microseconds only when there are any."""
    utc = f"({column} AT TIME ZONE 'UTC')"
    return (
        f"CASE WHEN {column} IS NULL THEN NULL ELSE to_char({utc}, 'YYYY-MM-DD\"T\"HH24:MI:SS') || "
        f"CASE WHEN extract(microseconds FROM {utc})::bigint % 1000000 = 0 THEN '' "
        f"ELSE to_char({utc}, '.US') END || 'Z' END"
    )


def _object(alias: str, fields: list[str], *, timestamps: tuple[str, ...] = (), numbers: tuple[str, ...] = ()) -> str:
    """`json_build_object` over `alias`'s columns; decimals as strings and timestamps formatted as in pydantic."""
    parts = []
    for name in fields:
        column = f"{alias}.{name}"
        value = _ts(column) if name in timestamps else f"{column}::text" if name in numbers else column
        parts.append(f"'{name}', {value}")
    return "json_build_object(" + ", ".join(parts) + ")"


def _recent(obj: str, source: str, order: str) -> str:
    return (
        f"COALESCE((SELECT json_agg({obj} ORDER BY {order}) FROM ({source} ORDER BY {order} LIMIT {RECENT}) r), "
        "'[]'::json)"
    )


_ORDER = _object(
    "r",
    "id external_id source member_id amount currency status items points_earned refunded_amount "
    "points_clawed_back placed_at created_at".split(),
    timestamps=("placed_at", "created_at"),
    numbers=("amount", "refunded_amount"),
)
_LEDGER_LINE = _object(
    "r",
    "entry_id transaction_id kind amount pending balance_after available_after reason reference_type "
    "reference_id created_at".split(),
    timestamps=("created_at",),
)
_MESSAGE = _object(
    "r",
    "id channel template category journey_kind status reason created_at sent_at".split(),
    timestamps=("created_at", "sent_at"),
)
_LEDGER_SOURCE = (
    "SELECT e.id AS entry_id, t.id AS transaction_id, t.kind, e.amount, e.pending, e.balance_after, "
    "e.available_after, t.reason, t.reference_type, t.reference_id, e.created_at "
    "FROM ledger_entries e JOIN ledger_transactions t ON t.id = e.transaction_id WHERE e.account_id = a.id"
)
_ORDER_SOURCE = "SELECT * FROM orders o WHERE o.member_id = m.id"
_CHECKOUT = _object(
    "r",
    "id external_id order_amount currency points value status expires_at created_at".split(),
    timestamps=("expires_at", "created_at"),
    numbers=("order_amount", "value"),
)
_CHECKOUT_SOURCE = "SELECT * FROM checkouts c WHERE c.member_id = m.id AND c.status = 'held'"
_PROFILE_FIELDS = (
    "'name', m.name, 'email', m.email, 'phone', m.phone, 'birthday', m.birthday, 'attributes', m.attributes, "
)
_MEMBER_FIELDS = (
    "'id', m.id, 'external_id', m.external_id, "
    "'timezone', m.timezone, 'locale', m.locale, 'tier', m.tier, "
    "'tags', to_json(m.tags), "
    "'consent', json_build_object('email', m.consent_email, 'sms', m.consent_sms, "
    f"'email_updated_at', {_ts('m.consent_email_at')}, 'email_source', m.consent_email_source, "
    f"'sms_updated_at', {_ts('m.consent_sms_at')}, 'sms_source', m.consent_sms_source), "
    "'lifetime_spend', m.lifetime_spend::text, 'order_count', m.order_count, "
    f"'last_purchase_at', {_ts('m.last_purchase_at')}, 'created_at', {_ts('m.created_at')}, "
    f"'updated_at', {_ts('m.updated_at')}"
)
# Every future expiry by date in the member's zone, as services.loyalty.expiries.schedule_of groups them.
_EXPIRY_DAYS = (
    "SELECT (l.expires_at AT TIME ZONE m.timezone)::date AS day, sum(l.remaining) AS points FROM ledger_lots l "
    "WHERE l.account_id = a.id AND l.remaining > 0 AND l.expires_at > now() GROUP BY 1"
)
_EXPIRIES = (
    f"(WITH d AS ({_EXPIRY_DAYS}), shown AS (SELECT * FROM d ORDER BY day LIMIT {expiries.SCHEDULE_ROWS}), "
    f"rest AS (SELECT * FROM d ORDER BY day OFFSET {expiries.SCHEDULE_ROWS}) "
    "SELECT json_build_object("
    "'dates', COALESCE((SELECT json_agg(json_build_object('expires_on', shown.day, 'points', shown.points) "
    "ORDER BY shown.day) FROM shown), '[]'::json), "
    "'total', (SELECT COALESCE(sum(points), 0) FROM d), "
    "'more_dates', (SELECT count(*) FROM rest), 'more_points', (SELECT COALESCE(sum(points), 0) FROM rest)))"
)
_PAID_PLAN = (
    "(SELECT json_build_object('plan_code', p.code, 'plan_name_en', p.name_en, 'plan_name_zh_cn', p.name_zh_cn, "
    f"'membership_id', ms.id, 'ends_at', {_ts('ms.ends_at')}, 'earn_multiplier', p.earn_multiplier::text, "
    "'monthly_coupon', p.monthly_coupon, 'free_shipping', p.free_shipping) "
    "FROM memberships ms JOIN plans p ON p.id = ms.plan_id "
    "WHERE ms.member_id = m.id AND ms.status = 'active' AND ms.ends_at > now() ORDER BY ms.ends_at DESC LIMIT 1)"
)
# The member's code and link ($4: the join page's address up to the code, `codes.join_link(code)` with the code
# cut off; codes need no escaping), who referred them, and how many friends they referred and were rewarded for.
_REFERRAL = (
    "json_build_object('code', rc.referral_code, 'link', $4::text || rc.referral_code, "
    "'referred_by', (SELECT r.referrer_id FROM referrals r WHERE r.referee_id = m.id), "
    "'friends_referred', (SELECT count(*) FROM referrals r WHERE r.referrer_id = m.id), "
    "'friends_rewarded', (SELECT count(*) FROM referrals r WHERE r.referrer_id = m.id AND r.status = 'rewarded'))"
)
_MESSAGES = _recent(_MESSAGE, "SELECT * FROM messages g WHERE g.member_id = m.id", "id DESC")
_TIER_CHANGE = _object(
    "r",
    "old_tier new_tier direction reason reference_type reference_id review_on occurred_at".split(),
    timestamps=("occurred_at",),
)
# The tier history, newest first: upgrades at orders and the reviews' rises and falls (services.loyalty).
_TIER_HISTORY = _recent(
    _TIER_CHANGE, "SELECT * FROM tier_changes c WHERE c.member_id = m.id", "occurred_at DESC, id DESC"
)


def _view_sql(*, masked: bool) -> str:
    """The 360 statement. Unmasked, the document is whole. Masked, the personal parts (profile fields, custom
    fields, recent messages) come as columns of their own and the rest as `body`, so masking works on a few small
    values and splices them in (`MaskableView.document`) instead of parsing the whole document."""
    profile = "" if masked else _PROFILE_FIELDS
    messages = "" if masked else f"'recent_messages', {_MESSAGES}, "
    columns = (
        "CASE WHEN m.attributes <> '{}'::jsonb THEN ARRAY(SELECT f.key FROM member_fields f WHERE NOT "
        "f.personal_data) END AS open_keys, "
        "m.name, m.email, m.phone, m.birthday::text AS birthday, m.attributes::text AS attributes, "
        f"({_MESSAGES})::text AS recent_messages, "
        if masked
        else ""
    )
    return (
        "SELECT a.id IS NOT NULL AS has_account, rc.referral_code IS NOT NULL AS has_code, "
        f"{columns}json_build_object("
        f"{profile}{_MEMBER_FIELDS}, "
        "'points', json_build_object('posted', a.posted, 'held', a.held, 'available', a.posted - a.held, "
        "'debt', a.debt), "
        f"'recent_orders', {_recent(_ORDER, _ORDER_SOURCE, 'placed_at DESC, id DESC')}, "
        f"'recent_ledger', {_recent(_LEDGER_LINE, _LEDGER_SOURCE, 'entry_id DESC')}, "
        f"'expiries', {_EXPIRIES}, "
        f"'tier_history', {_TIER_HISTORY}, "
        f"'open_checkouts', {_recent(_CHECKOUT, _CHECKOUT_SOURCE, 'expires_at, id')}, "
        f"'paid_plan', {_PAID_PLAN}, "
        f"'referral', {_REFERRAL}, "
        f"{messages}"
        "'links', json_build_object('journeys', $2::text, 'welcome_journey', $3::text)"
        ")::text AS body "
        "FROM members m LEFT JOIN ledger_accounts a ON a.member_id = m.id "
        "LEFT JOIN referral_codes rc ON rc.member_id = m.id WHERE m.id = $1"
    )


# $1 member id, $2 the journeys link, $3 the welcome journey link, $4 the referral link's prefix. The member's
# account is joined once; a
# member without one (which the ledger never allows) is reported as `has_account = false`. The masked form's
# `open_keys` are the custom fields not marked personal, which masking (services.privacy.masking) leaves as they
# are; read only when the member has custom field values, in the same statement.
VIEW_SQL = _view_sql(masked=False)
MASKABLE_VIEW_SQL = _view_sql(masked=True)


@dataclass(frozen=True)
class MaskableView:
    """The 360 with its personal parts apart: `personal` (name, email, phone, birthday, attributes,
    recent_messages as JSON values) to mask, and `rest`, the document's other keys as JSON text."""

    personal: dict[str, Any]
    rest: str
    open_keys: list[str]

    def document(self, personal: dict[str, Any]) -> str:
        """The whole 360 document with `personal` (masked) spliced into the rest."""
        return "{" + json.dumps(personal, ensure_ascii=False)[1:-1] + ", " + self.rest[1:]


def join_prefix(public_url: str | None = None) -> str:
    """The referral link without its code (`.../portal/join?ref=`)."""
    return codes.join_link("", public_url=public_url)


_MAKE_CODE = (
    "INSERT INTO referral_codes (member_id, referral_code) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING member_id"
)


async def _make_code(driver: Any, member_id: uuid.UUID) -> None:
    """A member seen for the first time gets their referral code, as the console and the portal make it when
    they first show it: once per member, so the 360 stays one statement afterwards. A drawn code another member
    holds inserts nothing; another is drawn (a concurrent first view's code wins the member's row)."""
    for _ in range(5):
        if await driver.fetchval(_MAKE_CODE, member_id, codes.new_code()) is not None:
            return
        if await driver.fetchval("SELECT 1 FROM referral_codes WHERE member_id = $1", member_id):
            return
    raise RuntimeError("could not draw an unused referral code in 5 attempts")


async def _row(driver: Any, sql: str, member_id: uuid.UUID, links: dict[str, str], join: str) -> Any:
    row = await driver.fetchrow(sql, member_id, links["journeys"], links["welcome_journey"], join)
    if row is None:
        raise NotFound(f"member {member_id} does not exist", code="member_not_found")
    if not row["has_account"]:
        raise NotFound(f"member {member_id} has no points account", code="member_not_found")
    if not row["has_code"]:
        await _make_code(driver, member_id)
        row = await driver.fetchrow(sql, member_id, links["journeys"], links["welcome_journey"], join)
    return row


async def view_maskable(driver: Any, member_id: uuid.UUID, *, links: dict[str, str], join: str) -> MaskableView:
    """The 360 for a masked answer, from the same one statement with the personal parts as columns. `join`:
    the referral link's prefix (`join_prefix`)."""
    row = await _row(driver, MASKABLE_VIEW_SQL, member_id, links, join)
    personal = {
        "name": row["name"],
        "email": row["email"],
        "phone": row["phone"],
        "birthday": row["birthday"],
        "attributes": json.loads(row["attributes"]),
        "recent_messages": json.loads(row["recent_messages"]),
    }
    return MaskableView(personal=personal, rest=row["body"], open_keys=list(row["open_keys"] or ()))


async def view_json(driver: Any, member_id: uuid.UUID, *, links: dict[str, str], join: str) -> str:
    """The 360 document as JSON text, from one prepared statement on an asyncpg connection (`driver`, as
    `core.db.driver_connection` gives it). `join`: the referral link's prefix (`join_prefix`)."""
    body: str = (await _row(driver, VIEW_SQL, member_id, links, join))["body"]
    return body
