"""Product data every installation starts with: built-in journeys, their coupons and message templates.
Seeding is idempotent and never overwrites what marketers changed."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services import journeys, messaging


async def seed(session: AsyncSession) -> None:
    await messaging.seed_builtin_templates(session)
    await journeys.seed_builtins(session)
