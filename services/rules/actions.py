"""What rule actions do: the event a rule sees, its limit key, the plan of each action and carrying it out.

Every write is keyed by the rule, the member and the limit key, so a retried or repeated firing finds what
the first one did instead of doing it again."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_FLOOR, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import AppError
from core.settings import get_settings
from core.timeutil import add_months
from models import Journey, JourneyVersion, Member
from services import journeys, members
from services.journeys import tasks
from services.loyalty import ledger
from services.platform import outbox
from services.rewards import coupons
from services.rewards.coupons import CouponIssue
from services.rules.definition import RuleAction, RuleDefinition
from services.rules.loading import CompiledRule
from workflows import contracts

# Built-in behaviour awards keep the ledger keys of the awards they replaced (`award:{type}:{member}[:…]`),
# so what a member earned before the upgrade still counts against the same limit.
LEGACY_AWARD_RULES = frozenset(
    {"award_signed_up", "award_checked_in", "award_profile_completed", "award_review_posted", "award_shared"}
)
_SAFE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


@dataclass(frozen=True)
class RuleEvent:
    """One occurrence of a trigger for one member. `key` identifies it (unique for the member), e.g.
    `event:{member event id}`, `order:{order id}`, `birthday:{member id}:2026`."""

    trigger: str
    member: Member
    key: str
    occurred_at: datetime
    facts: dict[str, Any] = field(default_factory=dict)
    properties: dict[str, Any] = field(default_factory=dict)
    shop_event_id: str | None = None
    today: date | None = None
    # The caller holds the member row lock (event and order ingestion): tags change on the loaded row.
    member_locked: bool = False


def _safe(value: str) -> str:
    return value if _SAFE.match(value) else hashlib.sha256(value.encode()).hexdigest()[:32]


def limit_key(definition: RuleDefinition, event: RuleEvent) -> str:
    """The per-member limit as a key: the second firing with the same key is refused by the database."""
    local = event.occurred_at.astimezone(ZoneInfo(event.member.timezone)).date()
    match definition.limit:
        case "once":
            return "once"
        case "once_per_day":
            return f"d:{local.isoformat()}"
        case "once_per_week":
            year, week, _ = local.isocalendar()
            return f"w:{year}-W{week:02d}"
        case "once_per_month":
            return f"m:{local.year}-{local.month:02d}"
        case "once_per_value":
            assert definition.limit_by is not None
            value = event.properties.get(definition.limit_by) or event.shop_event_id or event.key
            return f"v:{_safe(str(value))}"
    return f"e:{event.key}"


def legacy_award_key(rule: CompiledRule, definition: RuleDefinition, event: RuleEvent) -> str | None:
    """For a built-in award rule, the key services.intake.events used before rules: `award:{type}:{member}` + the
    local day or the review id; None for any other rule."""
    if not (rule.builtin and definition.name in LEGACY_AWARD_RULES):
        return None
    base = f"award:{definition.trigger.event}:{event.member.id}"
    if definition.limit == "once_per_day":
        local = event.occurred_at.astimezone(ZoneInfo(event.member.timezone)).date()
        return f"{base}:{local.isoformat()}"
    if definition.limit == "once_per_value":
        assert definition.limit_by is not None
        value = str(event.properties.get(definition.limit_by) or event.shop_event_id or event.key)
        return f"{base}:{value if len(value) <= 128 else _safe(value)}"  # a key fits its column
    return base


# --- plans -----------------------------------------------------------------------------------------------


def points_for(action: RuleAction, event: RuleEvent) -> int:
    grant = action.grant_points
    assert grant is not None
    if grant.points is not None:
        return grant.points
    assert grant.per_currency_unit is not None
    amount = Decimal(str(event.facts.get("event.amount") or 0))
    return int((amount * grant.per_currency_unit).to_integral_value(rounding=ROUND_FLOOR))


def plan(action: RuleAction, event: RuleEvent) -> dict[str, Any]:
    """The concrete thing an action will do for this event (points computed), before it is done."""
    if action.grant_points is not None:
        return {"action": "grant_points", "points": points_for(action, event)}
    if action.issue_coupon is not None:
        return {"action": "issue_coupon", "template": action.issue_coupon.template}
    if action.start_journey is not None:
        return {"action": "start_journey", "kind": action.start_journey.kind}
    if action.send_message is not None:
        send = action.send_message
        return {
            "action": "send_message",
            "channel": send.channel,
            "template": send.template,
            "coupon": send.coupon,
            "category": send.category,
            "delay_seconds": send.delay.seconds if send.delay else 0,
            "unless_ordered": send.unless_ordered,
        }
    if action.create_task is not None:
        task = action.create_task
        return {
            "action": "create_task",
            "title": task.title,
            "assignee_role": task.assignee_role,
            "due_days": task.due_days,
        }
    if action.tag is not None:
        return {"action": "tag", "add": list(action.tag.add), "remove": list(action.tag.remove)}
    assert action.flag is not None
    return {"action": "flag", "set": action.flag.set, "clear": action.flag.clear}


@dataclass(frozen=True)
class PendingCredit:
    """A grant's credit waiting to be posted, and the action result it completes."""

    result: dict[str, Any]
    request: ledger.CreditRequest


async def post_credits(session: AsyncSession, pending: list[PendingCredit]) -> None:
    """Post the grants of the event's firings in one round trip, each under its own idempotency key (a
    replay posts nothing and says so), and complete each grant's result."""
    if not pending:
        return
    postings = await ledger.credit_many(session, [credit.request for credit in pending])
    for credit, posting in zip(pending, postings, strict=True):
        if posting.replayed:
            credit.result.update({"status": "replayed", "points": 0, "transaction_id": posting.transaction_id})
        else:
            credit.result.update({"status": "done", "transaction_id": posting.transaction_id})


class ActionRunner:
    """Carries out the actions of one firing; every write is keyed by the rule, member and limit key."""

    def __init__(
        self,
        session: AsyncSession,
        rule: CompiledRule,
        definition: RuleDefinition,
        event: RuleEvent,
        limit: str,
        *,
        task_queue: str,
        legacy: tuple[str | None, int | None] = (None, None),
        credits: list[PendingCredit],
    ) -> None:
        self.session, self.rule, self.definition, self.event = session, rule, definition, event
        self.limit, self.task_queue = limit, task_queue
        self.member_id = event.member.id
        # A built-in award's pre-rules ledger key, and the transaction already posted under it (if any).
        self.legacy_key, self.legacy_transaction = legacy
        # The grants of every firing of the event, posted together in one statement.
        self.credits = credits

    def key(self, index: int) -> str:
        return f"rule:{self.rule.id}:{self.member_id}:{self.limit}:{index}"

    @property
    def workflow_id(self) -> str:
        return contracts.rule_message_workflow_id(self.rule.id, self.rule.current_version, self.event.key)

    async def run(self) -> list[dict[str, Any]]:
        results: list[dict[str, Any]] = []
        sends: list[dict[str, Any]] = []
        for index, action in enumerate(self.definition.actions):
            result = plan(action, self.event)
            if action.grant_points is not None:
                result |= self._grant(index, result)
            elif action.issue_coupon is not None:
                result |= await self._coupon(index, action.issue_coupon.template)
            elif action.start_journey is not None:
                result |= await self._journey(action.start_journey.kind)
            elif action.send_message is not None:
                message_key = f"{self.workflow_id}:{index}"
                sends.append(result | {"index": index, "message_key": message_key})
                result |= {"status": "scheduled", "workflow_id": self.workflow_id, "message_key": message_key}
            elif action.create_task is not None:
                task = action.create_task
                task_id = await tasks.create(
                    self.session,
                    member_id=self.member_id,
                    title=task.title,
                    assignee_role=task.assignee_role,
                    due_days=task.due_days,
                    source_key=self.key(index),
                )
                result |= {"status": "done", "task_id": str(task_id)}
            else:
                add = result.get("add") or ([result["set"]] if result.get("set") else [])
                remove = result.get("remove") or ([result["clear"]] if result.get("clear") else [])
                result |= {"status": "done", "tags": await self._tag(add, remove)}
            results.append(result)
        if sends:
            messages = contracts.RuleMessageInput(
                member_id=str(self.member_id),
                rule_id=str(self.rule.id),
                version=self.rule.current_version,
                event_at=self.event.occurred_at,
                sends=[
                    contracts.RuleSend(
                        index=s["index"],
                        channel=s["channel"],
                        template=s["template"],
                        coupon=s["coupon"],
                        category=s["category"],
                        delay_seconds=s["delay_seconds"],
                        unless_ordered=s["unless_ordered"],
                    )
                    for s in sends
                ],
            )
            # A message of a firing goes out once, even after its workflow ended.
            start = contracts.rule_message_start(messages, event_key=self.event.key, task_queue=self.task_queue)
            await outbox.enqueue_start(self.session, start)
        return results

    def _grant(self, index: int, result: dict[str, Any]) -> dict[str, Any]:
        """Prepare the grant's credit; it is posted with the other grants of the event (`post_credits`),
        which completes `result`."""
        points = int(result["points"])
        if points <= 0:
            return {"status": "skipped", "reason": "the award rounds to 0 points"}
        # Only a built-in award's first grant keeps the old key; any grant a marketer added gets its own.
        legacy_key, self.legacy_key = self.legacy_key, None
        trigger = self.definition.trigger.event
        grant = self.definition.actions[index].grant_points
        assert grant is not None
        if legacy_key is not None and self.legacy_transaction is not None:
            # Awarded before the upgrade under the same key: that award counts as this one, even with other
            # points (the settings changed that day), which the ledger would refuse as a conflicting replay.
            # Event ingestion holds the member row lock, so nothing posted the key since the probe.
            return {"status": "replayed", "points": 0, "transaction_id": self.legacy_transaction}
        reason = grant.reason or (
            f"Points for {trigger.replace('_', ' ')}" if legacy_key is not None else f"Rule {self.definition.name}"
        )
        self.credits.append(
            PendingCredit(
                result,
                ledger.CreditRequest(
                    member_id=self.member_id,
                    points=points,
                    kind=ledger.TxKind.EARN,
                    reason=reason,
                    idempotency_key=legacy_key or self.key(index),
                    expires_at=add_months(self.event.occurred_at, get_settings().points.expiry_months),
                    reference=("event", trigger) if legacy_key is not None else ("rule", str(self.rule.id)),
                ),
            )
        )
        return {"status": "pending"}

    async def _tag(self, add: list[str], remove: list[str]) -> list[str]:
        member = self.event.member
        if not self.event.member_locked:
            return await members.change_tags(self.session, self.member_id, add=add, remove=remove)
        tags = [tag for tag in member.tags if tag not in remove]
        tags += [tag for tag in add if tag not in tags]
        if tags != list(member.tags):
            member.tags = tags  # written once at the next flush, however many rules change it
        return tags

    async def _coupon(self, index: int, template: str) -> dict[str, Any]:
        try:
            async with self.session.begin_nested():
                view = await coupons.issue(
                    self.session,
                    CouponIssue(template_code=template, member_id=self.member_id, issue_key=self.key(index)),
                )
        except AppError as exc:  # limit reached, template inactive: the other actions still happen
            return {"status": "skipped", "reason": exc.code}
        return {"status": "done", "coupon_id": str(view.coupon.id), "code": view.coupon.code}

    async def _journey(self, kind: str) -> dict[str, Any]:
        row = (
            await self.session.execute(
                select(Journey, JourneyVersion)
                .join(
                    JourneyVersion,
                    (JourneyVersion.kind == Journey.kind) & (JourneyVersion.version == Journey.current_version),
                )
                .where(Journey.kind == kind)
            )
        ).one_or_none()
        if row is None:
            return {"status": "skipped", "reason": "journey_not_found"}
        journey, version = row
        if not journey.enabled:
            return {"status": "skipped", "reason": "journey_disabled"}
        await journeys.enqueue_start(
            self.session,
            kind=kind,
            member_id=self.member_id,
            task_queue=self.task_queue,
            reentry=str(version.definition.get("reentry", "never")),
        )
        return {"status": "started", "workflow_id": contracts.journey_workflow_id(kind, self.member_id)}
