"""the line's own records: topic bits on the anonymous records, follow-up cases, activities, decisions

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
# categories.TOPIC_BITS as it stood when this was written (a migration never follows later code).
TOPIC_BITS = {
    name: 1 << i
    for i, name in enumerate(
        (
            "social_control", "forced_marriage", "fgm", "abroad", "honour_violence", "close_violence",
            "virginity", "other", "forced_marriage_pressure", "forced_marriage_kept",
            "forced_marriage_leaving", "forced_marriage_religious_divorce", "abroad_threat",
        )
    )
}  # fmt: skip


def _backfill_topic_bits() -> None:
    """The records written before this revision get their bits from their topic lists."""
    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT key, topics FROM stat_records")).all()
    by_bits: dict[int, list[str]] = {}
    for key, topics in rows:
        listed = json.loads(topics) if isinstance(topics, str) else (topics or [])
        bits = 0
        for topic in listed:
            bits |= TOPIC_BITS.get(topic, 0)
        if bits:
            by_bits.setdefault(bits, []).append(key)
    update = sa.text("UPDATE stat_records SET topic_bits = :bits WHERE key = :key")
    for bits, keys in by_bits.items():
        conn.execute(update, [{"bits": bits, "key": key} for key in keys])


def upgrade() -> None:
    with op.batch_alter_table("stat_records", schema=None) as batch_op:
        batch_op.add_column(sa.Column("topic_bits", sa.Integer(), server_default="0", nullable=False))
    _backfill_topic_bits()
    with op.batch_alter_table("stat_records", schema=None) as batch_op:
        batch_op.create_index(
            "ix_stat_records_report",
            ["month", "kind", "channel", "role", "age_group", "gender", "follow_up"],
            unique=False,
        )
        batch_op.create_index("ix_stat_records_topics", ["month", "kind", "topic_bits"], unique=False)
        batch_op.create_index("ix_stat_records_country", ["month", "kind", "country"], unique=False)

    op.create_table(
        "cases",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("consent_date", sa.Date(), nullable=True),
        sa.Column("age_group", sa.String(length=16), nullable=False),
        sa.Column("gender", sa.String(length=16), nullable=False),
        sa.Column("responsible", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("alias_enc", sa.LargeBinary(), nullable=True),
        sa.Column("opened_on", sa.Date(), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cases")),
        sa.UniqueConstraint("code", name=op.f("uq_cases_code")),
    )
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.create_index("ix_cases_status_closed_at", ["status", "closed_at"], unique=False)

    op.create_table(
        "case_activities",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("case_id", BIG_ID, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("happened_on", sa.Date(), nullable=False),
        sa.Column("note_enc", sa.LargeBinary(), nullable=True),
        sa.Column("logged_by", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_activities_case_id_cases"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_activities")),
    )
    with op.batch_alter_table("case_activities", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_activities_case_id"), ["case_id"], unique=False)

    op.create_table(
        "concern_decisions",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("case_id", BIG_ID, nullable=False),
        sa.Column("decided_on", sa.Date(), nullable=False),
        sa.Column("duty", sa.String(length=32), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("reason_enc", sa.LargeBinary(), nullable=False),
        sa.Column("decided_by", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_concern_decisions_case_id_cases"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_concern_decisions")),
    )
    with op.batch_alter_table("concern_decisions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_concern_decisions_case_id"), ["case_id"], unique=False)

    op.create_table(
        "activity_records",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activity_records")),
    )
    with op.batch_alter_table("activity_records", schema=None) as batch_op:
        batch_op.create_index("ix_activity_records_report", ["month", "origin", "kind"], unique=False)


def downgrade() -> None:
    op.drop_table("activity_records")
    op.drop_table("concern_decisions")
    op.drop_table("case_activities")
    op.drop_table("cases")
    with op.batch_alter_table("stat_records", schema=None) as batch_op:
        batch_op.drop_index("ix_stat_records_country")
        batch_op.drop_index("ix_stat_records_topics")
        batch_op.drop_index("ix_stat_records_report")
        batch_op.drop_column("topic_bits")
