"""Rewards: the catalog and redemptions, approval tasks, coupons."""

from services.rewards.service import (
    MAX_POINTS,
    RedemptionCreate,
    RewardCreate,
    RewardUpdate,
    approval_threshold,
    catalog,
    create,
    get,
    get_redemption,
    request_redemption,
    update_reward,
)

__all__ = [
    "MAX_POINTS",
    "RedemptionCreate",
    "RewardCreate",
    "RewardUpdate",
    "approval_threshold",
    "catalog",
    "create",
    "get",
    "get_redemption",
    "request_redemption",
    "update_reward",
]
