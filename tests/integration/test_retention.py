"""Transcripts are deleted a set number of days after closing; the anonymous records stay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from intake.hours import OpeningHours
from intake.retention import purge
from intake.staff import SignInRefused, StaffAccounts
from intake.storage.db import make_database
from intake.storage.models import (
    ContactRow,
    ConversationRow,
    LoginAttemptRow,
    MessageRow,
    StaffSessionRow,
    StatRecordRow,
)
from intake.storage.uow import Database
from tests.integration.conftest import (
    ALWAYS_OPEN,
    Clock,
    Writer,
    build_desk,
    build_service,
    conversations,
    messages,
)

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


async def test_conversations_never_closed_are_purged_after_the_retention_period_of_inactivity(
    engine: AsyncEngine,
) -> None:
    clock = Clock()
    service = build_service(engine, clock, OpeningHours.from_config(ALWAYS_OPEN))
    mid_intake, queued, held, lively = (Writer(service, f"person-{i}") for i in range(4))
    await mid_intake.says("hei")
    for said in ("hei", "1", "ja", "Det gjelder meg", "2 3", "1", "1", "3"):
        await queued.says(said)
    clock.advance(seconds=1)  # the held conversation is the newest
    await held.says("hjelp")
    await build_desk(service).claim((await conversations(service.db))[-1].id, "anna")
    await lively.says("hei")
    records = await count(service.db, StatRecordRow)
    assert records == 1

    clock.advance(days=29)
    await lively.says("er dere der?")  # still writing: kept
    assert (await purge(service.db, clock(), retention_days=30)).conversations == 0
    clock.advance(days=2)
    purged = await purge(service.db, clock(), retention_days=30)

    (left,) = await conversations(service.db)
    assert left.status == "intake"
    assert {m.text for m in await messages(service.db, "in")} == {"hei", "er dere der?"}
    assert await count(service.db, ContactRow) == 1
    assert await count(service.db, StatRecordRow) == records  # the anonymous record stays
    assert (purged.conversations, purged.abandoned, purged.contacts) == (3, 3, 3)


async def test_stale_staff_sessions_and_sign_in_attempts_are_purged(engine: AsyncEngine) -> None:
    clock = Clock()
    db = make_database(engine)
    accounts = StaffAccounts(db, clock=clock)
    await accounts.add("anna", "a long enough password")
    await accounts.sign_in("anna", "a long enough password", "10.0.0.1")
    with pytest.raises(SignInRefused):
        await accounts.sign_in("anna", "wrong password", "10.0.0.2")
    assert (await count(db, StaffSessionRow), await count(db, LoginAttemptRow)) > (0, 0)

    clock.advance(minutes=5)
    await purge(db, clock(), retention_days=30)
    assert (await count(db, StaffSessionRow), await count(db, LoginAttemptRow)) > (0, 0)  # still in use
    clock.advance(days=2)
    stale = await purge(db, clock(), retention_days=30)

    assert (await count(db, StaffSessionRow), await count(db, LoginAttemptRow)) == (0, 0)
    assert stale.sessions == 1
    assert stale.attempts >= 1


async def count(db: Database, row: type[Any]) -> int:
    async with db.uow() as uow:
        return int(await uow.session.scalar(select(func.count()).select_from(row)) or 0)
