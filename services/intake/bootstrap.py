"""Product data every installation starts with: built-in journeys, their coupons, message templates, rules,
surveys and challenges (paused). Seeding is idempotent and never overwrites what marketers changed."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services import care, challenges, journeys, messaging, rules


async def seed(session: AsyncSession) -> None:
    await messaging.seed_builtin_templates(session)
    await journeys.seed_builtins(session)
    await rules.seed_builtins(session)
    await care.seed_builtin_surveys(session)
    await challenges.seed_builtins(session)
