"""Transcripts are deleted a set number of days after closing; the anonymous records stay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from intake.retention import purge
from intake.storage.db import make_database
from intake.storage.models import ContactRow, ConversationRow, MessageRow, StatRecordRow
from intake.storage.uow import Database

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


async def _conversation(db: Database, name: str, status: str, closed_days_ago: int | None) -> str:
    async with db.uow() as uow:
        contact = await uow.contacts.touch(name, "webchat", b"enc", NOW - timedelta(days=60))
        conv = ConversationRow(
            contact_id=contact.id,
            channel="webchat",
            language="nb",
            state={},
            status=status,
            created_at=NOW - timedelta(days=60),
            updated_at=NOW - timedelta(days=60),
            closed_at=None if closed_days_ago is None else NOW - timedelta(days=closed_days_ago),
        )
        uow.conversations.add(conv)
        await uow.flush()
        uow.messages.add(
            MessageRow(conversation_id=conv.id, direction="in", sender="person", text="hei", created_at=NOW)
        )
        await uow.stats.put(None, month="2026-09", channel="webchat", topics=[])
        await uow.commit()
        return conv.id


async def test_purge_deletes_only_transcripts_past_retention(engine: AsyncEngine) -> None:
    db = make_database(engine)
    old = await _conversation(db, "a" * 64, "closed", closed_days_ago=31)
    recent = await _conversation(db, "b" * 64, "closed", closed_days_ago=29)
    still_open = await _conversation(db, "c" * 64, "queued", closed_days_ago=None)

    purged = await purge(db, NOW, retention_days=30)

    assert purged.conversations == 1
    assert purged.contacts == 1
    async with db.uow() as uow:
        remaining = set(await uow.session.scalars(select(ConversationRow.id)))
        assert remaining == {recent, still_open}
        assert old not in remaining
        messages = await uow.session.scalar(select(func.count()).select_from(MessageRow))
        assert messages == 2
        contacts = set(await uow.session.scalars(select(ContactRow.pseudonym)))
        assert contacts == {"b" * 64, "c" * 64}
        assert await uow.session.scalar(select(func.count()).select_from(StatRecordRow)) == 3


async def test_purge_twice_is_harmless(engine: AsyncEngine) -> None:
    db = make_database(engine)
    await _conversation(db, "d" * 64, "closed", closed_days_ago=40)
    assert (await purge(db, NOW, 30)).conversations == 1
    assert (await purge(db, NOW, 30)).conversations == 0
