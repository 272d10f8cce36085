"""SQLAlchemy tables. Importing this package registers every table on `Base.metadata`."""

from models.api_keys import ApiKey
from models.audit import AuditEntry
from models.base import Base
from models.coupons import Coupon, CouponTemplate
from models.events import MemberEvent
from models.idempotency import IdempotencyRecord
from models.ledger import LedgerAccount, LedgerEntry, LedgerHold, LedgerLot, LedgerLotMove, LedgerTransaction
from models.members import Member
from models.orders import Order, OrderRefund
from models.outbox import TemporalOutbox
from models.rewards import Redemption, Reward
from models.tiers import Tier

__all__ = [
    "ApiKey",
    "AuditEntry",
    "Base",
    "Coupon",
    "CouponTemplate",
    "IdempotencyRecord",
    "LedgerAccount",
    "LedgerEntry",
    "LedgerHold",
    "LedgerLot",
    "LedgerLotMove",
    "LedgerTransaction",
    "Member",
    "MemberEvent",
    "Order",
    "OrderRefund",
    "Redemption",
    "Reward",
    "TemporalOutbox",
    "Tier",
]
