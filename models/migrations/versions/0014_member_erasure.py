"""members: erased_at, the marker erasure sets (messages suppressed, new events and orders refused); the ledger
stays append-only except for one change: erasure may redact the free text a person typed on a manual adjustment

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Exactly the update services.privacy makes: an adjustment's reason becomes the redaction marker, nothing else.
_TRANSACTIONS_GUARD = """
CREATE FUNCTION ledger_transactions_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.kind = 'adjust' AND NEW.reason = 'Adjustment: [erased]'
       AND to_jsonb(NEW) - 'reason' = to_jsonb(OLD) - 'reason' THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'ledger table % is append-only', TG_TABLE_NAME USING ERRCODE = 'restrict_violation';
END $$;
"""
_TRIGGER = (
    "CREATE TRIGGER ledger_transactions_append_only BEFORE UPDATE OR DELETE ON ledger_transactions "
    "FOR EACH ROW EXECUTE FUNCTION {}()"
)


def upgrade() -> None:
    op.add_column("members", sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(_TRANSACTIONS_GUARD)
    op.execute("DROP TRIGGER ledger_transactions_append_only ON ledger_transactions")
    op.execute(_TRIGGER.format("ledger_transactions_append_only"))


def downgrade() -> None:
    op.execute("DROP TRIGGER ledger_transactions_append_only ON ledger_transactions")
    op.execute(_TRIGGER.format("ledger_append_only"))
    op.execute("DROP FUNCTION ledger_transactions_append_only()")
    op.drop_column("members", "erased_at")
