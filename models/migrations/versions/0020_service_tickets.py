"""care: service tickets with SLAs, their history, queues with a lead, surveys due; a named assignee on staff tasks

Revision ID: 0020
Revises: 0017
Create Date: 2026-12-08 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("staff_tasks", sa.Column("assignee", sa.String(length=100), nullable=True))
    op.create_table(
        "care_queues",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("lead", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("created_at", _TIMESTAMP, server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_care_queues")),
        sa.UniqueConstraint("code", name=op.f("uq_care_queues_code")),
    )
    # The queue a ticket goes to when its caller names none (settings.care.default_queue).
    op.execute(
        "INSERT INTO care_queues (id, code, name, lead, role) "
        "VALUES ('0190d2a0-0000-7000-8000-000000000001', 'general', 'Customer care', 'care-lead', 'ops')"
    )
    op.create_table(
        "tickets",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("priority", sa.String(length=10), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("queue_id", sa.Uuid(), nullable=False),
        sa.Column("assignee", sa.String(length=100), nullable=True),
        sa.Column("first_response_due_at", _TIMESTAMP, nullable=False),
        sa.Column("resolution_due_at", _TIMESTAMP, nullable=False),
        sa.Column("first_response_at", _TIMESTAMP, nullable=True),
        sa.Column("breached_at", _TIMESTAMP, nullable=True),
        sa.Column("breach", sa.String(length=20), nullable=True),
        sa.Column("opened_at", _TIMESTAMP, nullable=False),
        sa.Column("closed_at", _TIMESTAMP, nullable=True),
        sa.Column("reopened_at", _TIMESTAMP, nullable=True),
        sa.Column("closings", sa.Integer(), nullable=False),
        sa.Column("opened_by", sa.String(length=100), nullable=False),
        sa.Column("updated_at", _TIMESTAMP, nullable=False),
        sa.CheckConstraint(
            "status IN ('open', 'in_progress', 'waiting_on_member', 'closed')", name=op.f("ck_tickets_status_known")
        ),
        sa.CheckConstraint("priority IN ('urgent', 'high', 'normal', 'low')", name=op.f("ck_tickets_priority_known")),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name=op.f("fk_tickets_member_id_members")),
        sa.ForeignKeyConstraint(["queue_id"], ["care_queues.id"], name=op.f("fk_tickets_queue_id_care_queues")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tickets")),
    )
    op.create_index("ix_tickets_queue_status", "tickets", ["queue_id", "status", "resolution_due_at"])
    op.create_index("ix_tickets_member_opened", "tickets", ["member_id", "opened_at"])
    op.create_table(
        "ticket_events",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("ticket_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("author_type", sa.String(length=10), nullable=False),
        sa.Column("author", sa.String(length=100), nullable=False),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("from_status", sa.String(length=20), nullable=True),
        sa.Column("to_status", sa.String(length=20), nullable=True),
        sa.Column("assignee", sa.String(length=100), nullable=True),
        sa.Column("event_key", sa.String(length=255), nullable=False),
        sa.Column("created_at", _TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], name=op.f("fk_ticket_events_ticket_id_tickets")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_events")),
        sa.UniqueConstraint("event_key", name=op.f("uq_ticket_events_event_key")),
    )
    op.create_index("ix_ticket_events_ticket", "ticket_events", ["ticket_id", "created_at"])
    op.create_table(
        "ticket_surveys_due",
        sa.Column("ticket_id", sa.Uuid(), nullable=False),
        sa.Column("closing", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("due_at", _TIMESTAMP, nullable=False),
        sa.Column("picked_up_at", _TIMESTAMP, nullable=True),
        sa.Column("created_at", _TIMESTAMP, server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], name=op.f("fk_ticket_surveys_due_ticket_id_tickets")),
        sa.PrimaryKeyConstraint("ticket_id", "closing", name=op.f("pk_ticket_surveys_due")),
    )
    op.create_index(
        "ix_ticket_surveys_due_waiting",
        "ticket_surveys_due",
        ["due_at"],
        postgresql_where=sa.text("picked_up_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_ticket_surveys_due_waiting", table_name="ticket_surveys_due")
    op.drop_table("ticket_surveys_due")
    op.drop_index("ix_ticket_events_ticket", table_name="ticket_events")
    op.drop_table("ticket_events")
    op.drop_index("ix_tickets_member_opened", table_name="tickets")
    op.drop_index("ix_tickets_queue_status", table_name="tickets")
    op.drop_table("tickets")
    op.drop_table("care_queues")
    op.drop_column("staff_tasks", "assignee")
