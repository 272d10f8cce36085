"""Rules at scale: compiled conditions agree with the evaluator, an event costs the same statements however many
rules match, the cached rules follow every publish, toggle and rollback, and batched grants post exactly."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import event, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from models import LedgerTransaction, Rule
from services import rules
from services.definitions.conditions import evaluate
from services.intake import events
from services.intake.events import EventCreate, EventType
from services.loyalty import invariants
from services.platform.audit import Actor
from services.rules.definition import RuleCondition
from services.rules.loading import rules_for
from services.rules.predicates import compile_condition
from tests.support.helpers import ApiClient
from tests.support.rules import Sessions, create_rule, firings, new_scope, posted, rule_body, scoped, scoped_member

_VALUES: list[Any] = [
    None,
    0,
    3,
    Decimal("5000.01"),
    0.3,
    "5",
    "silver",
    "2024-09-30",
    "2024-99-99",
    "sNaN",
    True,
    ["vip", "t_1"],
]
F, G = "attributes.f", "attributes.g"
_OPS = ("eq", "ne", "gt", "gte", "lt", "lte", "in", "not_in", "contains", "exists")
_EXPECTED: list[Any] = [3, "3", Decimal("0.30"), "2024-09-29", "silver", "vip", ["silver", 3], True, None, "me"]


def _leaves() -> Iterator[dict[str, Any]]:
    for op, expected in itertools.product(_OPS, _EXPECTED):
        if op in ("in", "not_in") and not isinstance(expected, list):
            continue
        yield {"field": F, "op": op, "value": expected}


def test_compiled_conditions_agree_with_the_evaluator_on_every_operator_and_value() -> None:
    leaves = [RuleCondition.model_validate(raw) for raw in _leaves()]
    trees = [
        *leaves,
        RuleCondition.model_validate({"all": [{"field": F, "op": "exists"}, {"field": G, "op": "eq", "value": 1}]}),
        RuleCondition.model_validate(
            {
                "any": [
                    {"field": G, "op": "gt", "value": 2},
                    {"not": {"field": F, "op": "exists"}},
                ]
            }
        ),
        RuleCondition.model_validate({"not": {"all": []}}),
        RuleCondition.model_validate({"any": []}),
    ]
    compared = 0
    for tree, actual, other in itertools.product(trees, _VALUES, (None, 1, "3")):
        facts = {F: actual, G: other}
        assert compile_condition(tree)(facts) == evaluate(tree, facts), (tree, facts)
        compared += 1
    assert compared > 1000


@contextmanager
def _counting(engine: AsyncEngine) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)


async def _abandon(sessions: Sessions, member_id: str) -> events.EventOutcome:
    """A left cart: a trigger with no built-in award, so only the test's rules grant points."""
    data = EventCreate(member_id=uuid.UUID(member_id), type=EventType.CART_ABANDONED, occurred_at=datetime.now(UTC))
    async with sessions() as session:
        outcome = await events.ingest(session, data, task_queue="rules-scale")
        await session.commit()
    return outcome


async def test_an_event_costs_the_same_statements_for_2_or_12_matching_rules(
    marketer: ApiClient, shop: ApiClient, sessions: Sessions, engine: AsyncEngine
) -> None:
    few, many = new_scope(), new_scope()
    for scope, count in ((few, 2), (many, 12)):
        for index in range(count):
            body = rule_body(
                scope, trigger={"event": "cart_abandoned"}, actions=[{"grant_points": {"points": index + 1}}]
            )
            await create_rule(marketer, body)
    few_member = await scoped_member(shop, sessions, few)
    many_member = await scoped_member(shop, sessions, many)
    await _abandon(sessions, few_member)  # the trigger's rules changed since the last event: this one reloads
    with _counting(engine) as for_few:
        outcome = await _abandon(sessions, few_member)
    assert outcome.points_awarded == 1 + 2
    with _counting(engine) as for_many:
        outcome = await _abandon(sessions, many_member)
    assert outcome.points_awarded == sum(range(1, 13))
    assert len(for_many) == len(for_few), (for_few, for_many)
    assert sum("rule_firings" in s for s in for_many) == 2  # the claim of all 12, and all of their results
    assert sum("mf_ledger_credit" in s for s in for_many) == 1  # 12 grants, one statement


async def test_cached_rules_follow_a_publish_a_toggle_from_elsewhere_and_ignore_a_rolled_back_publish(
    marketer: ApiClient, shop: ApiClient, sessions: Sessions
) -> None:
    scope = new_scope()
    body = rule_body(scope, trigger={"event": "cart_abandoned"}, actions=[{"grant_points": {"points": 3}}])
    created = await create_rule(marketer, body)
    rule_id = uuid.UUID(created["id"])
    member_id = await scoped_member(shop, sessions, scope)
    assert (await _abandon(sessions, member_id)).points_awarded == 3
    # Another process's publish: nothing in this one is told, the next event sees version 2.
    async with sessions() as session:
        newer = rules.parse({**body, "actions": [{"grant_points": {"points": 11}}]})
        await rules.publish(session, rule_id, newer, actor=Actor.system("test"))
        await session.commit()
    assert (await _abandon(sessions, member_id)).points_awarded == 11
    # Disabled by a bare UPDATE, as another process (or an operator in psql) would: no firing.
    async with sessions() as session:
        await session.execute(update(Rule).where(Rule.id == rule_id).values(enabled=False))
        await session.commit()
    assert (await _abandon(sessions, member_id)).points_awarded == 0
    async with sessions() as session:
        await session.execute(update(Rule).where(Rule.id == rule_id).values(enabled=True))
        await session.commit()
    # A version 3 evaluated inside its own transaction, then rolled back: it never becomes the cached v3.
    async with sessions() as session:
        dropped = rules.parse({**body, "actions": [{"grant_points": {"points": 1000}}]})
        await rules.publish(session, rule_id, dropped, actor=Actor.system("test"))
        await session.flush()
        assert (await rules_for(session, "cart_abandoned"))[0].definition is not None
        await session.rollback()
    async with sessions() as session:
        kept = rules.parse({**body, "actions": [{"grant_points": {"points": 13}}]})
        await rules.publish(session, rule_id, kept, actor=Actor.system("test"))
        await session.commit()
    assert (await _abandon(sessions, member_id)).points_awarded == 13
    assert [f.version for f in await firings(sessions, created["id"])] == [1, 2, 3]


async def test_grants_of_many_rules_and_actions_post_once_each_and_keep_the_ledger_exact(
    marketer: ApiClient, shop: ApiClient, sessions: Sessions
) -> None:
    scope = new_scope()
    twice = await create_rule(
        marketer,
        rule_body(
            scope,
            trigger={"event": "cart_abandoned"},
            actions=[{"grant_points": {"points": 2}}, {"tag": {"add": ["sharer"]}}, {"grant_points": {"points": 4}}],
        ),
    )
    # Tests the tag the rule before it adds: it runs after that rule acted, in a batch of its own.
    after_tag = await create_rule(
        marketer,
        rule_body(
            scope,
            trigger={"event": "cart_abandoned"},
            priority=200,
            conditions=scoped(scope, {"field": "tags", "op": "contains", "value": "sharer"}),
            actions=[{"grant_points": {"points": 8}}],
        ),
    )
    member_id = await scoped_member(shop, sessions, scope)
    body = {"member_id": member_id, "type": "cart_abandoned", "occurred_at": datetime.now(UTC).isoformat()}
    first = (await shop.post("/api/v1/events", json={**body, "event_id": f"s-{scope}"})).json()
    again = (await shop.post("/api/v1/events", json={**body, "event_id": f"s-{scope}"})).json()
    assert (first["points_awarded"], again["points_awarded"], again["duplicate"]) == (2 + 4 + 8, 0, True)
    assert await posted(sessions, member_id) == 14
    [firing] = await firings(sessions, twice["id"])
    grants = [r for r in firing.results if r["action"] == "grant_points"]
    assert [(g["points"], g["status"]) for g in grants] == [(2, "done"), (4, "done")]
    assert len({g["transaction_id"] for g in grants}) == 2
    assert [r["status"] for r in (await firings(sessions, after_tag["id"]))[0].results] == ["done"]
    async with sessions() as session:
        keys = (
            await session.execute(
                select(LedgerTransaction.idempotency_key).where(LedgerTransaction.member_id == uuid.UUID(member_id))
            )
        ).scalars()
        assert sorted(k.rsplit(":", 1)[1] for k in keys if k.startswith("rule:")) == ["0", "0", "2"]
        check = await invariants.check(session)
    assert check.ok, check


@pytest.mark.parametrize("points", [0, -1])
async def test_credit_many_refuses_a_grant_that_is_not_positive(sessions: Sessions, points: int) -> None:
    from services.loyalty import ledger

    request = ledger.CreditRequest(
        member_id=uuid.uuid4(),
        points=points,
        kind=ledger.TxKind.EARN,
        reason="test",
        idempotency_key=f"test:{uuid.uuid4()}",
        expires_at=datetime.now(UTC),
    )
    async with sessions() as session:
        with pytest.raises(ValueError, match="positive"):
            await ledger.credit_many(session, [request])
