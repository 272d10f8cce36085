"""ledger core: holds, lots and expiry, debt, posting functions; tiers, rewards, refunds, audit

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 18:11:52.076378
"""

import re
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _statements(path: Path) -> list[str]:
    """The file's top-level statements (each starts with CREATE at the start of a line), one per execute:
    asyncpg prepares each statement and refuses several in one."""
    chunks = re.split(r"\n(?=CREATE )", path.read_text())
    statements = []
    for chunk in chunks:
        lines = chunk.rstrip().splitlines()
        while lines and (not lines[-1].strip() or lines[-1].lstrip().startswith("--")):
            lines.pop()
        body = "\n".join(lines).strip().rstrip(";")
        if body and not all(line.lstrip().startswith("--") or not line.strip() for line in lines):
            statements.append(body)
    return statements


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("actor_key_id", sa.Uuid(), nullable=True),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target_type", sa.String(length=32), nullable=False),
        sa.Column("target_id", sa.String(length=64), nullable=False),
        sa.Column("details", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index("ix_audit_log_target", "audit_log", ["target_type", "target_id"], unique=False)
    op.create_table(
        "rewards",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("points_cost", sa.BigInteger(), nullable=False),
        sa.Column("stock", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("approval_threshold", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("points_cost > 0", name=op.f("ck_rewards_cost_positive")),
        sa.CheckConstraint("stock IS NULL OR stock >= 0", name=op.f("ck_rewards_stock_not_negative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rewards")),
    )
    op.create_table(
        "tiers",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("min_spend_exclusive", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("earn_multiplier", sa.Numeric(precision=5, scale=2), nullable=False),
        sa.Column("benefits", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("earn_multiplier > 0", name=op.f("ck_tiers_multiplier_positive")),
        sa.CheckConstraint("min_spend_exclusive >= 0", name=op.f("ck_tiers_threshold_not_negative")),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_tiers")),
        sa.UniqueConstraint("rank", name=op.f("uq_tiers_rank")),
    )
    op.create_table(
        "redemptions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("reward_id", sa.Uuid(), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("hold_id", sa.Uuid(), nullable=True),
        sa.Column("ledger_transaction_id", sa.BigInteger(), nullable=True),
        sa.Column("requested_by", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('completed', 'pending_approval', 'approved', 'fulfilling', 'fulfilled', 'rejected', 'expired', 'cancelled')",
            name=op.f("ck_redemptions_status_known"),
        ),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name=op.f("fk_redemptions_member_id_members")),
        sa.ForeignKeyConstraint(["reward_id"], ["rewards.id"], name=op.f("fk_redemptions_reward_id_rewards")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_redemptions")),
    )
    op.create_index(op.f("ix_redemptions_member_id"), "redemptions", ["member_id"], unique=False)
    op.create_index(op.f("ix_redemptions_reward_id"), "redemptions", ["reward_id"], unique=False)
    op.create_table(
        "ledger_holds",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("hold_transaction_id", sa.BigInteger(), nullable=False),
        sa.Column("resolution_transaction_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'posted', 'voided', 'expired')", name=op.f("ck_ledger_holds_status_known")
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_ledger_holds_amount_positive")),
        sa.ForeignKeyConstraint(
            ["account_id"], ["ledger_accounts.id"], name=op.f("fk_ledger_holds_account_id_ledger_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["hold_transaction_id"],
            ["ledger_transactions.id"],
            name=op.f("fk_ledger_holds_hold_transaction_id_ledger_transactions"),
        ),
        sa.ForeignKeyConstraint(
            ["resolution_transaction_id"],
            ["ledger_transactions.id"],
            name=op.f("fk_ledger_holds_resolution_transaction_id_ledger_transactions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_holds")),
    )
    op.create_index(
        "ix_ledger_holds_due",
        "ledger_holds",
        ["expires_at"],
        unique=False,
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_index(op.f("ix_ledger_holds_member_id"), "ledger_holds", ["member_id"], unique=False)
    op.create_table(
        "ledger_lots",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("transaction_id", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("remaining", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("remaining >= 0 AND remaining <= amount", name=op.f("ck_ledger_lots_remaining_in_range")),
        sa.ForeignKeyConstraint(
            ["account_id"], ["ledger_accounts.id"], name=op.f("fk_ledger_lots_account_id_ledger_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["ledger_transactions.id"],
            name=op.f("fk_ledger_lots_transaction_id_ledger_transactions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_lots")),
    )
    op.create_index(
        "ix_ledger_lots_due", "ledger_lots", ["expires_at"], unique=False, postgresql_where=sa.text("remaining > 0")
    )
    op.create_index(
        "ix_ledger_lots_open",
        "ledger_lots",
        ["account_id", "expires_at", "id"],
        unique=False,
        postgresql_where=sa.text("remaining > 0"),
    )
    op.create_table(
        "order_refunds",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("external_id", sa.String(length=128), nullable=False),
        sa.Column("amount", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("points_clawed_back", sa.BigInteger(), nullable=False),
        sa.Column("points_shortfall", sa.BigInteger(), nullable=False),
        sa.Column("refunded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name=op.f("fk_order_refunds_order_id_orders")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_refunds")),
        sa.UniqueConstraint("order_id", "external_id", name="uq_order_refunds_order_external"),
    )
    op.create_index(op.f("ix_order_refunds_order_id"), "order_refunds", ["order_id"], unique=False)
    op.create_table(
        "ledger_lot_moves",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("lot_id", sa.BigInteger(), nullable=False),
        sa.Column("transaction_id", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["lot_id"], ["ledger_lots.id"], name=op.f("fk_ledger_lot_moves_lot_id_ledger_lots")),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["ledger_transactions.id"],
            name=op.f("fk_ledger_lot_moves_transaction_id_ledger_transactions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_lot_moves")),
    )
    op.create_index(op.f("ix_ledger_lot_moves_lot_id"), "ledger_lot_moves", ["lot_id"], unique=False)
    op.create_index(op.f("ix_ledger_lot_moves_transaction_id"), "ledger_lot_moves", ["transaction_id"], unique=False)
    op.add_column("ledger_accounts", sa.Column("debt", sa.BigInteger(), server_default="0", nullable=False))
    op.add_column("ledger_entries", sa.Column("pending", sa.Boolean(), server_default="false", nullable=False))
    op.add_column("ledger_entries", sa.Column("available_after", sa.BigInteger(), nullable=True))
    op.add_column(
        "ledger_transactions",
        sa.Column("details", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'"), nullable=False),
    )
    op.add_column(
        "orders", sa.Column("refunded_amount", sa.Numeric(precision=14, scale=2), server_default="0", nullable=False)
    )
    op.add_column("orders", sa.Column("points_clawed_back", sa.BigInteger(), server_default="0", nullable=False))
    for statement in _statements(Path(__file__).parent.parent / "sql" / "ledger_v1.sql"):
        op.execute(statement)
    # Points earned before lots existed become one lot per member, expiring a year from now.
    op.execute(
        """
        INSERT INTO ledger_lots (account_id, transaction_id, amount, remaining, expires_at)
        SELECT a.id, (SELECT max(e.transaction_id) FROM ledger_entries e WHERE e.account_id = a.id),
               a.posted - a.held, a.posted - a.held, now() + interval '12 months'
        FROM ledger_accounts a WHERE a.kind = 'member' AND a.posted - a.held > 0
        """
    )
    op.execute(
        "INSERT INTO tiers (code, name, rank, min_spend_exclusive, earn_multiplier, benefits) VALUES "
        "('member', 'Member', 0, 0, 1.0, '[\"Earn 1 point per currency unit\"]'), "
        "('silver', 'Silver', 1, 1000, 1.2, '[\"Earn 1.2 points per currency unit\", \"Upgrade coupon\"]'), "
        "('gold', 'Gold', 2, 5000, 1.5, '[\"Earn 1.5 points per currency unit\", \"Upgrade coupon\", "
        '"Priority service"]\')'
    )


def downgrade() -> None:
    for function in (
        "mf_ledger_expire_lots(timestamptz, integer)",
        "mf_ledger_resolve_hold(text, text, uuid, text, text, jsonb)",
        "mf_ledger_hold(text, text, text, text, text, uuid, bigint, uuid, timestamptz, jsonb)",
        "mf_ledger_clawback(text, text, text, text, text, uuid, bigint, bigint, jsonb)",
        "mf_ledger_debit(text, text, text, text, text, text, uuid, bigint, text, jsonb)",
        "mf_ledger_credit(text, text, text, text, text, text, uuid, bigint, text, timestamptz, jsonb)",
        "mf_ledger_consume_lots(bigint, bigint, bigint, bigint)",
        "mf_ledger_missing(uuid, bigint)",
        "mf_ledger_system_account(text)",
        "mf_ledger_replay(bigint, uuid)",
        "mf_ledger_open_tx(text, text, text, text, text, text, uuid, jsonb)",
    ):
        op.execute(f"DROP FUNCTION IF EXISTS {function}")
    op.execute("DROP TYPE IF EXISTS mf_ledger_result")
    op.drop_column("orders", "points_clawed_back")
    op.drop_column("orders", "refunded_amount")
    op.drop_column("ledger_transactions", "details")
    op.drop_column("ledger_entries", "available_after")
    op.drop_column("ledger_entries", "pending")
    op.drop_column("ledger_accounts", "debt")
    op.drop_index(op.f("ix_ledger_lot_moves_transaction_id"), table_name="ledger_lot_moves")
    op.drop_index(op.f("ix_ledger_lot_moves_lot_id"), table_name="ledger_lot_moves")
    op.drop_table("ledger_lot_moves")
    op.drop_index(op.f("ix_order_refunds_order_id"), table_name="order_refunds")
    op.drop_table("order_refunds")
    op.drop_index("ix_ledger_lots_open", table_name="ledger_lots", postgresql_where=sa.text("remaining > 0"))
    op.drop_index("ix_ledger_lots_due", table_name="ledger_lots", postgresql_where=sa.text("remaining > 0"))
    op.drop_table("ledger_lots")
    op.drop_index(op.f("ix_ledger_holds_member_id"), table_name="ledger_holds")
    op.drop_index("ix_ledger_holds_due", table_name="ledger_holds", postgresql_where=sa.text("status = 'pending'"))
    op.drop_table("ledger_holds")
    op.drop_index(op.f("ix_redemptions_reward_id"), table_name="redemptions")
    op.drop_index(op.f("ix_redemptions_member_id"), table_name="redemptions")
    op.drop_table("redemptions")
    op.drop_table("tiers")
    op.drop_table("rewards")
    op.drop_index("ix_audit_log_target", table_name="audit_log")
    op.drop_table("audit_log")
