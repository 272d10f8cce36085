"""Property-based: any sequence of earn, spend, hold, post, void, refund and expire keeps every invariant.

A simple model in Python predicts posted, held and debt after each step; the database must agree, and the
ledger check (zero sums, cached = computed, lots = available, no lot over-consumed) must pass."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.loyalty import ledger
from services.loyalty.ledger import InsufficientPoints
from tests.support.ledger import assert_ledger_ok, balance, new_member

Sessions = async_sessionmaker[AsyncSession]

operation = st.one_of(
    st.tuples(st.just("earn"), st.integers(1, 500), st.booleans()),  # bool: lot already due to expire
    st.tuples(st.just("spend"), st.integers(1, 600), st.just(False)),
    st.tuples(st.just("hold"), st.integers(1, 400), st.just(False)),
    st.tuples(st.just("post"), st.integers(0, 5), st.just(False)),
    st.tuples(st.just("void"), st.integers(0, 5), st.just(False)),
    st.tuples(st.just("clawback"), st.integers(1, 300), st.just(False)),
    st.tuples(st.just("expire"), st.just(0), st.just(False)),
)


@dataclass
class Model:
    posted: int = 0
    held: int = 0
    debt: int = 0
    # Pending holds: id, amount, and how much of it came from due lots (it goes back there if voided).
    pending: list[tuple[uuid.UUID, int, int]] = field(default_factory=list)
    # Points in lots that are already due, in the order they would be consumed (oldest expiry first).
    due: list[int] = field(default_factory=list)
    fresh: int = 0

    @property
    def available(self) -> int:
        return self.posted - self.held

    def consume(self, points: int) -> int:
        """Take points oldest first; returns how many came from due lots."""
        from_due = 0
        for index, amount in enumerate(self.due):
            used = min(amount, points - from_due)
            self.due[index] -= used
            from_due += used
        self.fresh -= points - from_due
        return from_due


async def _apply(sessions: Sessions, member: uuid.UUID, model: Model, op: tuple[str, int, bool]) -> None:
    kind, amount, flag = op
    key = f"prop:{uuid.uuid4()}"
    async with sessions() as session:
        if kind == "earn":
            repay = min(amount, model.debt)
            past = datetime.now(UTC) - timedelta(days=1)
            await ledger.credit(
                session,
                member_id=member,
                points=amount,
                kind=ledger.TxKind.EARN,
                reason="p",
                idempotency_key=key,
                expires_at=past if flag else datetime.now(UTC) + timedelta(days=30),
            )
            model.debt -= repay
            model.posted += amount - repay
            if flag:
                model.due.append(amount - repay)
            else:
                model.fresh += amount - repay
        elif kind == "spend":
            try:
                await ledger.debit(
                    session, member_id=member, points=amount, kind=ledger.TxKind.SPEND, reason="p", idempotency_key=key
                )
            except InsufficientPoints:
                assert amount > model.available
                return
            assert amount <= model.available
            model.posted -= amount
            model.consume(amount)
        elif kind == "hold":
            hold_id = uuid.uuid4()
            try:
                await ledger.hold(
                    session, member_id=member, points=amount, reason="p", idempotency_key=key, hold_id=hold_id
                )
            except InsufficientPoints:
                assert amount > model.available
                return
            model.held += amount
            model.pending.append((hold_id, amount, model.consume(amount)))
        elif kind in ("post", "void"):
            if not model.pending:
                return
            hold_id, held, from_due = model.pending.pop(amount % len(model.pending))
            if kind == "post":
                await ledger.post_hold(session, hold_id, reason="p")
                model.posted -= held
            else:
                await ledger.void_hold(session, hold_id, reason="p")
                model.due.append(from_due)  # released points return to the lots they came from
                model.fresh += held - from_due
            model.held -= held
        elif kind == "clawback":
            taken = min(amount, model.available)
            result = await ledger.clawback(
                session, member_id=member, points=amount, reason="p", reference=("prop", key), idempotency_key=key
            )
            assert (result.amount, result.shortfall) == (taken, amount - taken)
            model.posted -= taken
            model.debt += amount - taken
            model.consume(taken)
        elif kind == "expire":
            await ledger.expire_due_lots(session, now=datetime.now(UTC))
            model.posted -= sum(model.due)
            model.due = []
        await session.commit()


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations=st.lists(operation, min_size=1, max_size=40))
async def test_random_sequences_keep_every_invariant(
    sessions: Sessions, operations: list[tuple[str, int, bool]]
) -> None:
    member = await new_member(sessions)
    model = Model()
    for op in operations:
        await _apply(sessions, member, model, op)
        actual = await balance(sessions, member)
        assert (actual.posted, actual.held, actual.debt) == (model.posted, model.held, model.debt), op
        assert actual.available >= 0
    await assert_ledger_ok(sessions)
