"""Points at checkout through the shop's API: quotes to the point, hold → capture with the order → refunds
that give the points back in proportion, release, every refusal precise and writing nothing, and the ledger
check exact after each. The CheckoutHold timer is tests/loyalty/test_checkout_timer.py's."""

from __future__ import annotations

import uuid
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models import Checkout, LedgerTransaction, TemporalOutbox
from tests.support.checkouts import balance_of, checkout_body, funded_member, programme_rate
from tests.support.helpers import ApiClient, assert_error, order_body
from tests.support.ledger import assert_ledger_ok

Sessions = async_sessionmaker[AsyncSession]


async def _ledger_rows(sessions: Sessions, member_id: str) -> int:
    async with sessions() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(LedgerTransaction)
            .where(LedgerTransaction.member_id == uuid.UUID(member_id))
        )
        return int(count or 0)


async def _checkouts_of(sessions: Sessions, member_id: str) -> list[str]:
    async with sessions() as session:
        rows = await session.execute(select(Checkout.status).where(Checkout.member_id == uuid.UUID(member_id)))
        return sorted(rows.scalars().all())


async def _quote(shop: ApiClient, member_id: str, amount: str) -> dict[str, object]:
    response = await shop.post(
        "/api/v1/checkouts/quote", json={"member_id": member_id, "order_amount": amount, "currency": "CNY"}
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_quote_is_min_of_available_and_cap_in_whole_units_and_writes_nothing(
    shop: ApiClient, admin: ApiClient, sessions: Sessions
) -> None:
    async with programme_rate(sessions):
        rich = await funded_member(shop, admin, 12_345)
        before = await _ledger_rows(sessions, rich)
        # Cap: 50% of 199.99 is 99.995 CNY, 99 whole CNY, 9,900 points; available in whole units: 12,300.
        quote = await _quote(shop, rich, "199.99")
        assert (quote["available"], quote["cap_points"], quote["max_points"], quote["max_value"]) == (
            12_345,
            9_900,
            9_900,
            "99.00",
        )
        assert quote["reason"] == "ok"
        # Under the cap, the available points decide, in whole units of 100: 12,300 = 123.00 CNY.
        assert ((q := await _quote(shop, rich, "500.00"))["max_points"], q["max_value"]) == (12_300, "123.00")
        assert await _ledger_rows(sessions, rich) == before  # a quote writes nothing
        poor = await funded_member(shop, admin, 450)
        assert ((q := await _quote(shop, poor, "500.00"))["max_points"], q["reason"]) == (0, "below_minimum")
    async with programme_rate(sessions, points_per_unit=250, unit_value=Decimal("2.00"), max_percent=30):
        # 30% of 100.00 is 30.00 CNY: 15 units of 2.00, 3,750 points; by the shop's customer id.
        external = (await shop.get(f"/api/v1/members/{rich}")).json()["external_id"]
        response = await shop.post(
            "/api/v1/checkouts/quote",
            json={"member_external_id": external, "order_amount": "100.00", "currency": "CNY"},
        )
        assert (response.json()["max_points"], response.json()["max_value"]) == (3_750, "30.00")
    async with programme_rate(sessions, enabled=False):
        assert ((q := await _quote(shop, rich, "500.00"))["max_points"], q["reason"]) == (0, "disabled")
    await assert_ledger_ok(sessions)


async def test_hold_capture_with_the_order_then_refunds_return_points_in_proportion(
    shop: ApiClient, admin: ApiClient, sessions: Sessions
) -> None:
    async with programme_rate(sessions):
        member_id = await funded_member(shop, admin, 10_000)
        held = await shop.post(
            "/api/v1/checkouts", json=checkout_body(member_id, f"co-{uuid.uuid4().hex}", amount="99.99", points=4_900)
        )
        assert held.status_code == 201, held.text
        checkout = held.json()
        assert (checkout["status"], checkout["value"], checkout["points"]) == ("held", "49.00", 4_900)
        assert await balance_of(shop, member_id) == (10_000, 4_900)  # available drops, posted does not
        order = await shop.post(
            "/api/v1/orders", json=order_body(member_id, amount="99.99", checkout_id=checkout["id"])
        )
        assert order.status_code == 201, order.text
        order_id = order.json()["id"]
        captured = (await shop.get(f"/api/v1/checkouts/{checkout['id']}")).json()
        assert (captured["status"], captured["order_id"]) == ("captured", order_id)
        # 10,000 - 4,900 spent + 99 earned on the order (1 per whole CNY).
        assert await balance_of(shop, member_id) == (5_199, 0)
        await assert_ledger_ok(sessions)
        # Each refund returns floor(4,900 × refunded so far / 99.99) less what earlier refunds returned, and
        # claws back the order's earned points the same way: 1,633 and 33, then 1,633 and 33, then the rest.
        expected = [(1_633, 6_799), (1_633, 8_399), (1_634, 10_000)]
        for index, (returned, posted) in enumerate(expected):
            refund = await shop.post(
                f"/api/v1/orders/{order_id}/refunds", json={"external_id": f"rf-{index}", "amount": "33.33"}
            )
            assert refund.status_code == 201, refund.text
            assert (refund.json()["refund"]["points_returned"], refund.json()["refund"]["points_clawed_back"]) == (
                returned,
                33,
            )
            assert await balance_of(shop, member_id) == (posted, 0)
            await assert_ledger_ok(sessions)
        # The same refund again replays: nothing more comes back, never more than the 4,900 used.
        again = await shop.post(f"/api/v1/orders/{order_id}/refunds", json={"external_id": "rf-2", "amount": "33.33"})
        assert again.status_code == 201, again.text
        assert (await shop.get(f"/api/v1/checkouts/{checkout['id']}")).json()["points_refunded"] == 4_900
        assert await balance_of(shop, member_id) == (10_000, 0)
    await assert_ledger_ok(sessions)


async def test_capture_endpoint_replays_by_key_and_refuses_a_second_order_or_a_release(
    shop: ApiClient, admin: ApiClient, sessions: Sessions
) -> None:
    async with programme_rate(sessions):
        member_id = await funded_member(shop, admin, 2_000)
        checkout = (
            await shop.post(
                "/api/v1/checkouts",
                json=checkout_body(member_id, f"co-{uuid.uuid4().hex}", amount="40.00", points=2_000),
            )
        ).json()
        first = (await shop.post("/api/v1/orders", json=order_body(member_id, amount="40.00"))).json()
        second = (await shop.post("/api/v1/orders", json=order_body(member_id, amount="40.00"))).json()
        url = f"/api/v1/checkouts/{checkout['id']}/capture"
        stranger = await funded_member(shop, admin, 0)
        theirs = (await shop.post("/api/v1/orders", json=order_body(stranger, amount="40.00"))).json()
        mismatch = assert_error(await shop.post(url, json={"order_id": theirs["id"]}), 422, "checkout_member_mismatch")
        assert mismatch["details"][0]["field"] == "body.order_id"
        headers = {"Idempotency-Key": f"cap-{uuid.uuid4().hex}"}
        captured = await shop.post(url, json={"order_id": first["id"]}, headers=headers)
        assert captured.status_code == 200, captured.text
        assert captured.json()["status"] == "captured"
        replay = await shop.post(url, json={"order_id": first["id"]}, headers=headers)
        assert (replay.status_code, replay.headers.get("Idempotent-Replayed")) == (200, "true")
        assert replay.json() == captured.json()
        assert (await shop.post(url, json={"order_id": first["id"]})).json()["status"] == "captured"
        assert_error(await shop.post(url, json={"order_id": second["id"]}), 409, "checkout_captured")
        assert_error(await shop.post(f"/api/v1/checkouts/{checkout['id']}/release"), 409, "checkout_captured")
        # 2,000 - 2,000 spent + 40 + 40 earned by the two orders.
        assert await balance_of(shop, member_id) == (80, 0)
    await assert_ledger_ok(sessions)


async def test_release_restores_the_points_and_a_capture_after_it_is_409(
    shop: ApiClient, admin: ApiClient, sessions: Sessions
) -> None:
    async with programme_rate(sessions):
        member_id = await funded_member(shop, admin, 3_000)
        checkout = (
            await shop.post(
                "/api/v1/checkouts",
                json=checkout_body(member_id, f"co-{uuid.uuid4().hex}", amount="60.00", points=3_000),
            )
        ).json()
        assert await balance_of(shop, member_id) == (3_000, 3_000)
        released = await shop.post(f"/api/v1/checkouts/{checkout['id']}/release")
        assert (released.status_code, released.json()["status"]) == (200, "released")
        assert await balance_of(shop, member_id) == (3_000, 0)
        assert (await shop.post(f"/api/v1/checkouts/{checkout['id']}/release")).json()["status"] == "released"
        body = order_body(member_id, amount="60.00", checkout_id=checkout["id"])
        assert_error(await shop.post("/api/v1/orders", json=body), 409, "checkout_released")
        # The refused order was not stored: the shop can send it again without the checkout.
        body.pop("checkout_id")
        order = (await shop.post("/api/v1/orders", json=body)).json()
        assert_error(
            await shop.post(f"/api/v1/checkouts/{checkout['id']}/capture", json={"order_id": order["id"]}),
            409,
            "checkout_released",
        )
        assert await balance_of(shop, member_id) == (3_060, 0)
    await assert_ledger_ok(sessions)


async def test_every_refusal_is_precise_and_writes_nothing(
    shop: ApiClient, admin: ApiClient, sessions: Sessions
) -> None:
    async with programme_rate(sessions):
        member_id = await funded_member(shop, admin, 1_000)
        ledger_before = await _ledger_rows(sessions, member_id)

        async def refused(status: int, code: str, **changes: object) -> None:
            body = checkout_body(member_id, f"co-{uuid.uuid4().hex}", amount="100.00", points=800) | changes
            error = assert_error(await shop.post("/api/v1/checkouts", json=body), status, code)
            assert error["message"]

        await refused(422, "below_minimum", points=400)
        await refused(422, "above_cap", points=5_100, order_amount="100.00")  # cap: 5,000 points
        await refused(422, "points_not_whole_units", points=850)
        await refused(409, "insufficient_points", points=1_100, order_amount="100.00")
        await refused(422, "currency_mismatch", currency="USD")
        await refused(404, "member_not_found", member_id=str(uuid.uuid4()))
        await refused(422, "validation_error", member_external_id="someone")  # both ways of naming the member
        await refused(422, "validation_error", order_amount=100.0)  # money is never a float
        await refused(422, "validation_error", points=0)
        await refused(422, "validation_error", expires_in_minutes=0)
        async with programme_rate(sessions, enabled=False):
            await refused(409, "points_payment_disabled")
        assert_error(await shop.post(f"/api/v1/checkouts/{uuid.uuid4()}/release"), 404, "checkout_not_found")
        assert_error(await admin.put("/api/v1/checkout-settings", json={"enabled": True}), 422, "validation_error")
        assert await balance_of(shop, member_id) == (1_000, 0)
        assert await _ledger_rows(sessions, member_id) == ledger_before
        assert await _checkouts_of(sessions, member_id) == []
        # The same checkout id again: the same figures replay the first, others are 409.
        body = checkout_body(member_id, f"co-{uuid.uuid4().hex}", amount="100.00", points=800)
        first = await shop.post("/api/v1/checkouts", json=body)
        assert first.status_code == 201, first.text
        assert (await shop.post("/api/v1/checkouts", json=body)).json()["id"] == first.json()["id"]
        assert_error(await shop.post("/api/v1/checkouts", json=body | {"points": 900}), 409, "checkout_exists")
        assert await balance_of(shop, member_id) == (1_000, 800)
        async with sessions() as session:
            starts = await session.scalar(
                select(func.count())
                .select_from(TemporalOutbox)
                .where(
                    TemporalOutbox.workflow_id == f"checkout-{first.json()['id']}", TemporalOutbox.action != "signal"
                )
            )
        assert starts == 1  # one timer for the checkout, however often it was sent
    await assert_ledger_ok(sessions)


async def test_the_rate_is_admin_only_and_audited(admin: ApiClient, shop: ApiClient, sessions: Sessions) -> None:
    async with programme_rate(sessions):
        body = {
            "enabled": True,
            "currency": "CNY",
            "points_per_unit": 10,
            "unit_value": "0.10",
            "max_percent": 20,
            "min_points": 100,
            "hold_minutes": 15,
        }
        assert_error(await shop.put("/api/v1/checkout-settings", json=body), 403, "insufficient_role")
        changed = await admin.put("/api/v1/checkout-settings", json=body)
        assert changed.status_code == 200, changed.text
        read = (await shop.get("/api/v1/checkout-settings")).json()
        assert (read["points_per_unit"], read["unit_value"], read["max_percent"], read["hold_minutes"]) == (
            10,
            "0.10",
            20,
            15,
        )
        assert read["updated_by"].startswith("test-admin")


async def test_the_worked_example_of_docs_loyalty_md(shop: ApiClient, admin: ApiClient, sessions: Sessions) -> None:
    """docs/loyalty.md, "Points at checkout": the shop's calls in order, with the figures the page gives."""
    async with programme_rate(sessions):
        member_id = await funded_member(shop, admin, 12_345)
        external = (await shop.get(f"/api/v1/members/{member_id}")).json()["external_id"]
        quote = await shop.post(
            "/api/v1/checkouts/quote",
            json={"member_external_id": external, "order_amount": "259.00", "currency": "CNY"},
        )
        assert (quote.json()["cap_points"], quote.json()["max_points"], quote.json()["max_value"]) == (
            12_900,
            12_300,
            "123.00",
        )
        body = {
            "external_id": f"cart-{uuid.uuid4().hex}",
            "member_external_id": external,
            "order_amount": "259.00",
            "currency": "CNY",
            "points": 10_000,
        }
        held = await shop.post("/api/v1/checkouts", json=body, headers={"Idempotency-Key": uuid.uuid4().hex})
        assert (held.status_code, held.json()["value"]) == (201, "100.00")
        assert await balance_of(shop, member_id) == (12_345, 10_000)
        order = await shop.post(
            "/api/v1/orders", json=order_body(member_id, amount="259.00", checkout_id=held.json()["id"])
        )
        assert order.status_code == 201, order.text
        assert await balance_of(shop, member_id) == (12_345 - 10_000 + 259, 0)
        refunds = [("rf-1", "77.70", 3_000, 77), ("rf-2", "51.80", 2_000, 52)]
        for refund_id, amount, returned, clawed in refunds:
            refund = await shop.post(
                f"/api/v1/orders/{order.json()['id']}/refunds", json={"external_id": refund_id, "amount": amount}
            )
            assert (refund.json()["refund"]["points_returned"], refund.json()["refund"]["points_clawed_back"]) == (
                returned,
                clawed,
            )
        assert await balance_of(shop, member_id) == (2_604 + 3_000 - 77 + 2_000 - 52, 0)
    await assert_ledger_ok(sessions)
