"""encrypt message text, staff notes and outbox payloads stored in clear by earlier versions

The column types stay (the token is stored as text, the payload as a JSON string holding it); the rows
are encrypted here, in batches, with the newest configured key.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from alembic import context, op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

BATCH = 1000
# Plain types: the values as stored, not through the models' encrypting ones.
MESSAGES = sa.table("messages", sa.column("id", sa.BigInteger()), sa.column("text", sa.Text()))
OUTBOX = sa.table("outbox", sa.column("id", sa.BigInteger()), sa.column("payload", sa.JSON()))


def _encrypt(table: sa.TableClause, column: str, seal: Callable[[Any], Any]) -> None:
    connection = op.get_bind()
    value = table.c[column]
    change = sa.update(table).where(table.c.id == sa.bindparam("row_id")).values({column: sa.bindparam("sealed")})
    last = -1
    while True:
        rows = connection.execute(
            sa.select(table.c.id, value).where(table.c.id > last).order_by(table.c.id).limit(BATCH)
        ).all()
        if not rows:
            return
        connection.execute(change, [{"row_id": row_id, "sealed": seal(clear)} for row_id, clear in rows])
        last = rows[-1][0]


def upgrade() -> None:
    connection = op.get_bind()
    stored = sum(
        connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one() for table in (MESSAGES, OUTBOX)
    )
    if not stored:
        return
    cipher = context.config.attributes.get("cipher")
    if cipher is None:
        raise RuntimeError("encrypting the stored messages needs the key: run `helpline migrate`")

    def seal(data: str) -> str:
        return str(cipher.seal(data.encode("utf-8")).decode("ascii"))

    _encrypt(MESSAGES, "text", seal)
    # The payload becomes a JSON string holding the token (what SealedJSON writes).
    _encrypt(OUTBOX, "payload", lambda payload: seal(json.dumps(payload, ensure_ascii=False, separators=(",", ":"))))


def downgrade() -> None:
    raise NotImplementedError("decrypting the stored messages again is not supported")
