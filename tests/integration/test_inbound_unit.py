"""The inbound unit on the writer (plain SQL) leaves exactly the rows the ORM path leaves, on SQLite and
on PostgreSQL.

The same people say the same things, at the same times, to two services: one whose database has the
group-commit writer (the unit of operations, intake/inbound.py), one without it (the ORM session, as
before). Every rule is walked: a whole intake to the queue and its anonymous record, the rate limit, a
blocked sender, an opt-out, the delete word (after staff took the conversation), a conversation staff
closed coming back, a flood of web chat conversations from one source, a redelivery, the line closed and
nobody signed in; and the outbox's sender claiming and marking replies sent in between. Then every table
is compared: through the ORM models (decrypted, as the console reads them) and as stored (timestamps'
text, JSON, booleans), up to what is random by design (a conversation's uuid, a record's key, an
encryption's token).
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast

import asyncpg
import pytest
from sqlalchemy import Table, make_url, select
from sqlalchemy.ext.asyncio import AsyncEngine

from intake.delivery import Report, apply_report, pull
from intake.hours import OpeningHours
from intake.messages import Channel, Contact, Delivery, InboundMessage
from intake.queue import Categorisation
from intake.service import IntakeService, Outcome
from intake.staff import StaffAccounts
from intake.storage.db import make_engine, migrate
from intake.storage.models import (
    ContactRow,
    ConversationRow,
    InboundSeenRow,
    MessageRow,
    OutboxRow,
    StatRecordRow,
)
from intake.storage.pg_writer import PgWriter
from intake.storage.urls import listen_dsn
from intake.storage.writer import SqliteWriter
from tests.conftest import _require_postgres, _scratch_postgres
from tests.integration.conftest import (
    ALWAYS_CLOSED,
    ALWAYS_OPEN,
    Clock,
    Writer,
    build_desk,
    build_service,
    conversations,
    outbox,
)
from tests.integration.test_outbox import FakeTelegram, worker
from tests.integration.test_service import BUTTON_INTAKE, TYPED_INTAKE

TABLES = ("contacts", "conversations", "messages", "outbox", "inbound_seen", "stat_records")
# Stored encrypted (a new token each time): compared decrypted, through the models.
SEALED = {("messages", "text"), ("outbox", "payload"), ("contacts", "address_enc"), ("outbox", "address_enc")}


async def _script(service: IntakeService, clock: Clock) -> list[Outcome]:
    """Everything the rules do, in one history."""
    outcomes: list[Outcome] = []

    async def say(
        person: Writer, text: str = "", choice: str | None = None, provider_id: str | None = None
    ) -> None:
        clock.advance(seconds=1.234567)
        outcomes.append(await person.says(text, choice, provider_id))

    intake = Writer(service, "typed-intake")
    for said in TYPED_INTAKE:
        await say(intake, said)
    await say(intake, "one more thing")  # queued already
    buttons = Writer(service, "buttons")
    for said, choice in BUTTON_INTAKE:
        await say(buttons, said, choice)
    await say(buttons, "again", provider_id=f"{buttons.contact.address}-{buttons.sent}")  # a redelivery

    flooding = Writer(service, "flooding")
    for i in range(service.max_per_minute + 3):
        clock.advance(seconds=0.5)
        outcomes.append(await flooding.says(f"please {i}"))

    blocked = Writer(service, "blocked")
    await say(blocked, "hello")
    await build_desk(service).block((await conversations(service.db))[-1].id, "anna", hours=24)
    await say(blocked, "are you there?")
    await say(blocked, "hello?")

    sms = Writer(service, "+4791234567", Channel.SMS)
    await say(sms, "hei")
    await say(sms, "1")
    await say(sms, "STOP")
    await say(sms, "hei igjen")  # back in: no longer opted out
    stays_out = Writer(service, "+4790000000", Channel.SMS)
    await say(stays_out, "hei")
    await say(stays_out, "STOP")

    erased = Writer(service, "erased")
    await say(erased, "hei")
    await say(erased, "1")
    await build_desk(service).claim((await conversations(service.db))[-1].id, "anna")
    # The sender claims and marks what is due (on the writer: its jobs too); the delete word below then
    # finds sent replies to take off the device.
    sender = worker(service, clock, FakeTelegram())
    while await sender.run_once():
        clock.advance(seconds=0.1)
    await say(erased, "/delete")
    await say(erased, "hello again")

    held = Writer(service, "held")
    for said in TYPED_INTAKE:
        await say(held, said)
    desk = build_desk(service)
    conv_id = (await conversations(service.db))[-1].id
    await desk.claim(conv_id, "anna")
    await desk.close(conv_id, "anna", Categorisation())
    await say(held, "I forgot something")  # reopened: back with anna
    await say(held, "3")  # to anna, not a pick from the bot's last offer

    source = "webchat-source-1"
    for n in range(service.limits.flood_conversations + 2):
        clock.advance(seconds=1)
        web = Contact(Channel.WEBCHAT, f"chat-token-{n}")
        outcomes.append(await service.handle(InboundMessage(web, f"web-{n}", "hei", clock(), source=source)))

    service.hours = OpeningHours.from_config(ALWAYS_CLOSED)
    late = Writer(service, "late")
    await say(late, "hei")
    await say(late, "1")

    service.hours = OpeningHours.from_config(ALWAYS_OPEN)
    accounts = StaffAccounts(service.db, clock=clock)
    service.staffed = accounts.anyone_signed_in
    service.staff_idle = accounts.idle_timeout
    unstaffed = Writer(service, "unstaffed")
    await say(unstaffed, "hei")
    await say(unstaffed, "1")

    # What channels learn of their replies (on the writer: its jobs too): a web chat tab pulls its
    # replies, then delivery reports arrive in any order.
    tab = Writer(service, "pulling-tab", Channel.WEBCHAT)
    await say(tab, "hei")
    pulled = await pull(service.db, tab.pseudonym, 0, clock())
    assert pulled
    assert await pull(service.db, tab.pseudonym, pulled[-1].id, clock()) == []
    while await sender.run_once():
        clock.advance(seconds=0.1)
    sent = [row for row in await outbox(service.db) if row.provider_id is not None]
    arrived, lost = str(sent[0].provider_id), str(sent[1].provider_id)
    assert await apply_report(service.db, Report(arrived, Delivery.DELIVERED)) == "telegram"
    assert await apply_report(service.db, Report(arrived, Delivery.FAILED, "late")) == "telegram"
    assert await apply_report(service.db, Report(lost, Delivery.FAILED, "Telegram: failed")) == "telegram"
    assert await apply_report(service.db, Report("no such reply", Delivery.DELIVERED)) is None
    return outcomes


async def _models(service: IntakeService) -> dict[str, list[dict[str, Any]]]:
    """Every row of the intake's tables as the models read them, ids that are random made positional."""
    found: dict[str, list[dict[str, Any]]] = {}
    async with service.db.uow() as uow:
        for model in (ContactRow, ConversationRow, MessageRow, OutboxRow, InboundSeenRow, StatRecordRow):
            table = cast(Table, model.__table__)
            rows = (await uow.session.execute(select(model).order_by(*table.primary_key.columns))).scalars()
            found[table.name] = [
                {column.key: getattr(row, column.key) for column in table.columns} for row in rows
            ]
    conv_ids = _positions(
        sorted(found["conversations"], key=lambda r: (r["created_at"], r["contact_id"])), "id"
    )
    # A record's key is a uuid: a conversation points at the record's content instead, and the records
    # are compared as a sorted list of their contents.
    records = {row.pop("key"): row for row in found["stat_records"]}
    for row in found["conversations"]:
        row["id"] = conv_ids[row["id"]]
        row["stat_key"] = records.get(row["stat_key"])
    found["conversations"].sort(key=lambda r: r["id"])
    found["stat_records"].sort(key=repr)
    for name in ("messages", "outbox"):
        for row in found[name]:
            row["conversation_id"] = conv_ids.get(row["conversation_id"])
    for name in ("contacts", "outbox"):
        for row in found[name]:
            row["address_enc"] = service.keys.decrypt(row["address_enc"]) if row["address_enc"] else b""
    return found


def _differences(got: list[dict[str, Any]], expected: list[dict[str, Any]]) -> list[Any]:
    """Where the rows differ, by row and column (readable where a plain == would print both tables)."""
    if len(got) != len(expected):
        return [("rows", len(got), len(expected))]
    return [
        (n, column, a[column], b[column])
        for n, (a, b) in enumerate(zip(got, expected, strict=True))
        for column in a
        if a[column] != b[column]
    ]


def _positions(rows: list[dict[str, Any]], key: str) -> dict[Any, int]:
    return {row[key]: n for n, row in enumerate(rows)}


def _masked(table: str, row: dict[str, Any]) -> dict[str, Any]:
    """What is random by design (a uuid, a record's key, an encryption's token) left out."""
    for column in list(row):
        if (
            (table, column) in SEALED
            or column in ("key", "stat_key")
            or (table == "conversations" and column == "id")
            or column == "conversation_id"
        ):
            row[column] = None if row[column] is None else "…"
    return row


async def _stored(url: str) -> dict[str, list[dict[str, Any]]]:
    """Every row as stored (SQLite: text of timestamps, JSON, 0/1; PostgreSQL: JSON's text as kept)."""
    if make_url(url).get_backend_name() == "sqlite":
        return _stored_sqlite(str(make_url(url).database))
    conn = await asyncpg.connect(listen_dsn(url))
    try:
        found = {}
        for table in TABLES:
            rows = [_masked(table, dict(row)) for row in await conn.fetch(f"SELECT * FROM {table}")]  # noqa: S608
            # No insertion order to read back on PostgreSQL: compared as sorted lists.
            found[table] = sorted(rows, key=repr)
        return found
    finally:
        await conn.close()


def _stored_sqlite(path: str) -> dict[str, list[dict[str, Any]]]:
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    try:
        return {
            table: [
                _masked(table, dict(row))
                for row in conn.execute(f"SELECT * FROM {table} ORDER BY rowid")  # noqa: S608
            ]
            for table in TABLES
        }
    finally:
        conn.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def two_databases(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[tuple[str, str]]:
    """Two empty databases of one kind: one for the ORM path, one for the writer's unit."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'orm.db'}", f"sqlite+aiosqlite:///{tmp_path / 'unit.db'}"
        return
    admin = _require_postgres()
    async for orm in _scratch_postgres(admin):
        async for unit in _scratch_postgres(admin):
            yield orm, unit


async def _run(url: str, writer: bool) -> tuple[IntakeService, AsyncEngine, list[Outcome]]:
    engine = make_engine(url)
    await migrate(engine)
    clock = Clock()
    service = build_service(engine, clock, OpeningHours.from_config(ALWAYS_OPEN))
    if not writer:
        service.db.writer = None
    assert (service.db.writer is not None) is writer
    outcomes = await _script(service, clock)
    return service, engine, outcomes


async def test_the_writer_s_unit_leaves_the_rows_the_orm_path_leaves(two_databases: tuple[str, str]) -> None:
    orm_url, unit_url = two_databases
    by_orm, orm_engine, orm_outcomes = await _run(orm_url, writer=False)
    by_unit, unit_engine, unit_outcomes = await _run(unit_url, writer=True)
    try:
        assert by_unit.db.writer is not None
        kind = SqliteWriter if make_url(unit_url).get_backend_name() == "sqlite" else PgWriter
        assert isinstance(by_unit.db.writer, kind)
        assert by_unit.db.writer.jobs > 0
        assert unit_outcomes == orm_outcomes
        assert Outcome.DUPLICATE in unit_outcomes
        orm_rows, unit_rows = await _models(by_orm), await _models(by_unit)
        for table in TABLES:
            assert _differences(unit_rows[table], orm_rows[table]) == [], table
        # Something of every kind was written (the comparison compares something).
        assert {c["status"] for c in unit_rows["conversations"]} >= {"intake", "queued", "closed", "claimed"}
        assert any(c["flood"] for c in unit_rows["conversations"])
        assert any(c["opted_out"] for c in unit_rows["contacts"])
        assert any(c["blocked_until"] for c in unit_rows["contacts"])
        assert any(c["version"] > 2 for c in unit_rows["conversations"])
        assert unit_rows["stat_records"]
        assert {r["status"] for r in unit_rows["outbox"]} >= {"sent", "pending", "failed"}
        assert any(m["delivery"] == "sent" for m in unit_rows["messages"])
        assert {m["delivery"] for m in unit_rows["messages"]} >= {"delivered", "failed"}
        assert [r["status"] for r in unit_rows["outbox"] if r["last_error"] == "Telegram: failed"] == ["sent"]
        assert await _stored(unit_url) == await _stored(orm_url)
    finally:
        for service, engine in ((by_orm, orm_engine), (by_unit, unit_engine)):
            await service.db.close()
            await engine.dispose()
