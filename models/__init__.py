"""SQLAlchemy tables. Importing this package registers every table on `Base.metadata`."""

from models.api_keys import ApiKey
from models.base import Base
from models.events import MemberEvent
from models.idempotency import IdempotencyRecord
from models.ledger import LedgerAccount, LedgerEntry, LedgerTransaction
from models.members import Member
from models.orders import Order
from models.outbox import TemporalOutbox

__all__ = [
    "ApiKey",
    "Base",
    "IdempotencyRecord",
    "LedgerAccount",
    "LedgerEntry",
    "LedgerTransaction",
    "Member",
    "MemberEvent",
    "Order",
    "TemporalOutbox",
]
