"""The migration that encrypts what earlier versions stored in clear (SQLite and PostgreSQL): nothing is
lost, nothing stays readable in the raw columns, and without the key it refuses rather than guesses."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from intake.privacy import Keys
from intake.storage.db import alembic_config, make_database, make_engine, migrate
from intake.storage.models import MessageRow, OutboxRow
from tests.conftest import TEST_SECRET_KEY
from tests.integration.conftest import fetch

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
CLEAR = ["jeg er redd for å dra hjem", "Notat: ring tilbake i morgen", "🙂 ære og skam"]
PAYLOAD = {"text": "Vi er her.", "choices": [{"id": "nb", "label": "Norsk"}], "lang": "nb"}

CONVERSATIONS = sa.table(
    "conversations",
    *(sa.column(n) for n in ("id", "channel", "language", "status", "danger", "under18", "outside_hours")),
    sa.column("state", sa.JSON()),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("updated_at", sa.DateTime(timezone=True)),
    sa.column("version"),
)
MESSAGES = sa.table(
    "messages",
    *(sa.column(n) for n in ("conversation_id", "direction", "sender", "text", "attachments")),
    sa.column("created_at", sa.DateTime(timezone=True)),
)
OUTBOX = sa.table(
    "outbox",
    *(sa.column(n) for n in ("channel", "pseudonym", "status", "attempts")),
    sa.column("address_enc", sa.LargeBinary()),
    sa.column("payload", sa.JSON()),
    sa.column("next_attempt_at", sa.DateTime(timezone=True)),
    sa.column("created_at", sa.DateTime(timezone=True)),
)


async def at_0004_with_clear_rows(engine: AsyncEngine) -> None:
    """A database as the previous version left it: the schema of 0004, text and payloads in clear."""

    def upgrade(connection: Connection) -> None:
        cfg = alembic_config()
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "0004")

    async with engine.begin() as conn:
        await conn.run_sync(upgrade)
        await conn.execute(
            CONVERSATIONS.insert().values(
                id="c1", channel="telegram", language="nb", status="queued", danger=False, under18=True,
                outside_hours=False, state={}, created_at=NOW, updated_at=NOW, version=1,
            )
        )  # fmt: skip
        await conn.execute(
            MESSAGES.insert(),
            [
                {
                    "conversation_id": "c1",
                    "direction": d,
                    "sender": "x",
                    "text": t,
                    "attachments": 0,
                    "created_at": NOW,
                }
                for d, t in zip(("in", "note", "out"), CLEAR, strict=True)
            ],
        )
        await conn.execute(
            OUTBOX.insert().values(
                channel="telegram", pseudonym="p" * 64, status="pending", attempts=0, address_enc=b"x",
                payload=PAYLOAD, next_attempt_at=NOW, created_at=NOW,
            )
        )  # fmt: skip


async def test_clear_rows_are_encrypted_by_the_migration(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        await at_0004_with_clear_rows(engine)
        db = make_database(engine, Keys.from_secret(TEST_SECRET_KEY))
        await migrate(engine)

        assert [m.text for m in await fetch(db, sa.select(MessageRow).order_by(MessageRow.id))] == CLEAR
        (row,) = await fetch(db, sa.select(OutboxRow))
        assert row.payload == PAYLOAD
        async with engine.connect() as conn:
            raw = [str(v) for (v,) in await conn.execute(sa.text("SELECT text FROM messages"))]
            raw += [str(v) for (v,) in await conn.execute(sa.text("SELECT payload FROM outbox"))]
        assert len(raw) == 4
        for clear in [*CLEAR, "Vi er her", "Norsk", "choices"]:
            assert not any(clear in value for value in raw), clear
    finally:
        await engine.dispose()


async def test_without_the_key_the_migration_refuses_and_changes_nothing(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        await at_0004_with_clear_rows(engine)
        with pytest.raises(RuntimeError, match="needs the key"):
            await migrate(engine)
        async with engine.connect() as conn:
            texts = (await conn.execute(sa.text("SELECT text FROM messages ORDER BY id"))).scalars().all()
            version = (await conn.execute(sa.text("SELECT version_num FROM alembic_version"))).scalar_one()
        assert list(texts) == CLEAR
        assert version == "0004"
    finally:
        await engine.dispose()
