"""outbox indexes for a claim that costs its batch, not the backlog; index messages.outbox_id

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

OPEN = sa.text("status IN ('pending', 'sending')")


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(
            "ix_outbox_open", ["pseudonym", "id"], unique=False, sqlite_where=OPEN, postgresql_where=OPEN
        )
        batch_op.create_index("ix_outbox_status_id", ["status", "id"], unique=False)
        batch_op.drop_index("ix_outbox_due")
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.create_index("ix_messages_outbox_id", ["outbox_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index("ix_messages_outbox_id")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_due", ["status", "next_attempt_at"], unique=False)
        batch_op.drop_index("ix_outbox_status_id")
        batch_op.drop_index("ix_outbox_open")
