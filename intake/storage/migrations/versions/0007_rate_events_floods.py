"""web chat limits and floods: rate_events; conversations.source and .flood

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rate_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rate_events")),
    )
    with op.batch_alter_table("rate_events", schema=None) as batch_op:
        batch_op.create_index("ix_rate_events_key_at", ["key", "at"], unique=False)
        batch_op.create_index(batch_op.f("ix_rate_events_at"), ["at"], unique=False)
    # Plain ADD COLUMN, never a batch "move and copy": on SQLite that drops the old conversations table,
    # and with foreign keys on, the drop cascades to every message and outbox row of those conversations.
    op.add_column("conversations", sa.Column("source", sa.String(length=16), nullable=True))
    op.add_column(
        "conversations", sa.Column("flood", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    op.create_index(op.f("ix_conversations_source"), "conversations", ["source"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_conversations_source"))
        batch_op.drop_column("flood")
        batch_op.drop_column("source")
    with op.batch_alter_table("rate_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rate_events_at"))
        batch_op.drop_index("ix_rate_events_key_at")
    op.drop_table("rate_events")
