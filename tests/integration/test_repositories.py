"""The repositories on SQLite and on a real PostgreSQL server: each query, and the concurrent ones."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import func, inspect, select, text
from sqlalchemy.exc import StatementError
from sqlalchemy.ext.asyncio import AsyncEngine

from intake.storage.db import alembic_config, make_database, migrate
from intake.storage.models import (
    ContactRow,
    ConversationRow,
    InboundSeenRow,
    MessageRow,
    OutboxRow,
    StatRecordRow,
)
from intake.storage.uow import Database
from tests.integration.conftest import fetch

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
LEASE = timedelta(seconds=60)
TABLES = {"contacts", "conversations", "messages", "inbound_seen", "outbox", "stat_records"}


@pytest.fixture
def db(engine: AsyncEngine) -> Database:
    return make_database(engine)


def outbox_row(pseudonym: str = "p" * 64, **fields: Any) -> OutboxRow:
    values: dict[str, Any] = {
        "conversation_id": None,
        "channel": "telegram",
        "pseudonym": pseudonym,
        "address_enc": b"encrypted",
        "payload": {"text": "hello"},
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": NOW,
        "created_at": NOW,
    }
    values.update(fields)
    return OutboxRow(**values)


async def add_outbox(db: Database, *rows: OutboxRow) -> list[int]:
    async with db.uow() as uow:
        ids = [await uow.outbox.add(row) for row in rows]
        await uow.commit()
    return ids


async def claim(
    db: Database, now: datetime, limit: int = 50, channels: tuple[str, ...] = ("telegram",)
) -> list[int]:
    async with db.uow() as uow:
        rows = await uow.outbox.claim_due(now, limit, LEASE, list(channels))
        await uow.commit()
    return [row.id for row in rows]


async def get_outbox(db: Database, outbox_id: int) -> OutboxRow:
    async with db.uow() as uow:
        row = await uow.outbox.get(outbox_id)
        assert row is not None
        uow.session.expunge_all()  # readable after the unit of work rolls back
        return row


# ---- InboundSeen ----


async def test_first_time_is_true_once_per_provider_key(db: Database) -> None:
    async with db.uow() as uow:
        assert await uow.seen.first_time("telegram", "key-1", NOW) is True
        await uow.commit()
    async with db.uow() as uow:
        assert await uow.seen.first_time("telegram", "key-1", NOW) is False
        # The same key on another channel, or another key, is new.
        assert await uow.seen.first_time("sms", "key-1", NOW) is True
        assert await uow.seen.first_time("telegram", "key-2", NOW) is True
        await uow.commit()
    async with db.uow() as uow:
        count = (await uow.session.execute(select(func.count()).select_from(InboundSeenRow))).scalar_one()
    assert count == 3


async def test_first_time_not_committed_is_forgotten(db: Database) -> None:
    async with db.uow() as uow:
        assert await uow.seen.first_time("telegram", "key-1", NOW) is True
        # no commit: the unit of work rolls back
    async with db.uow() as uow:
        assert await uow.seen.first_time("telegram", "key-1", NOW) is True


async def test_concurrent_first_time_from_two_sessions_exactly_one_wins(db: Database) -> None:
    async def record(key: str) -> bool:
        async with db.uow() as uow:
            first = await uow.seen.first_time("telegram", key, NOW)
            await uow.commit()
            return first

    for attempt in range(5):
        results = await asyncio.gather(record(f"race-{attempt}"), record(f"race-{attempt}"))
        assert sorted(results) == [False, True]


# ---- Contacts ----


async def test_touch_creates_once_and_returns_the_same_row(db: Database) -> None:
    async with db.uow() as uow:
        first = await uow.contacts.touch("a" * 64, "telegram", b"address-1", NOW)
        await uow.commit()
    later = NOW + timedelta(hours=1)
    async with db.uow() as uow:
        again = await uow.contacts.touch("a" * 64, "telegram", b"address-2", later)
        other = await uow.contacts.touch("b" * 64, "telegram", b"address-3", later)
        await uow.commit()
    assert again.id == first.id
    assert other.id != first.id
    rows = await fetch(db, select(ContactRow).order_by(ContactRow.id))
    assert [row.pseudonym for row in rows] == ["a" * 64, "b" * 64]
    row = rows[0]
    assert row.created_at == NOW
    assert row.last_seen_at == later
    assert row.address_enc == b"address-2"  # the newest reply address
    assert row.opted_out is False
    assert row.hostile is False


async def test_touch_from_two_sessions_at_once_makes_one_contact(db: Database) -> None:
    async def touch() -> int:
        async with db.uow() as uow:
            row = await uow.contacts.touch("c" * 64, "sms", b"address", NOW)
            await uow.commit()
            return row.id

    ids = await asyncio.gather(touch(), touch())
    assert ids[0] == ids[1]
    async with db.uow() as uow:
        count = (await uow.session.execute(select(func.count()).select_from(ContactRow))).scalar_one()
    assert count == 1


# ---- Conversations ----


async def test_queue_orders_danger_then_under18_then_outside_hours_then_wait(db: Database) -> None:
    base = NOW

    def conversation(name: str, minutes: int, status: str = "queued", **flags: bool) -> ConversationRow:
        return ConversationRow(
            id=f"{name:0>36}",
            channel="webchat",
            language="nb",
            state={},
            status=status,
            queued_at=base + timedelta(minutes=minutes),
            created_at=base,
            updated_at=base,
            **flags,
        )

    async with db.uow() as uow:
        for row in (
            conversation("plain-late", 9),
            conversation("plain-early", 1),
            conversation("outside", 8, outside_hours=True),
            conversation("under18-late", 7, under18=True),
            conversation("under18-early", 6, under18=True),
            conversation("under18-outside", 5, under18=True, outside_hours=True),
            conversation("danger", 10, danger=True),
            conversation("danger-early", 2, danger=True, outside_hours=True),
            conversation("intake", 0, status="intake", danger=True),
            conversation("closed", 0, status="closed", danger=True),
        ):
            uow.conversations.add(row)
        await uow.commit()
    async with db.uow() as uow:
        queue = await uow.conversations.queue()
        length = await uow.conversations.queue_length()
        uow.session.expunge_all()
    assert [row.id.lstrip("0") for row in queue] == [
        "danger-early",
        "danger",
        "under18-outside",
        "under18-early",
        "under18-late",
        "outside",
        "plain-early",
        "plain-late",
    ]
    assert length == 8


# ---- Outbox ----


async def test_claim_due_takes_only_due_rows_of_the_given_channels(db: Database) -> None:
    due, future, sent, failed, sms = await add_outbox(
        db,
        outbox_row("a" * 64),
        outbox_row("b" * 64, next_attempt_at=NOW + timedelta(seconds=1)),
        outbox_row("c" * 64, status="sent"),
        outbox_row("d" * 64, status="failed"),
        outbox_row("e" * 64, channel="sms"),
    )
    assert await claim(db, NOW) == [due]
    row = await get_outbox(db, due)
    assert row.status == "sending"
    assert row.attempts == 1
    assert row.locked_until == NOW + LEASE
    assert await claim(db, NOW + timedelta(seconds=1)) == [future]
    assert await claim(db, NOW + timedelta(seconds=2), channels=("sms", "telegram")) == [sms]
    for untouched in (sent, failed):
        assert (await get_outbox(db, untouched)).attempts == 0


async def test_claim_due_respects_the_limit_oldest_first(db: Database) -> None:
    ids = await add_outbox(db, *(outbox_row(pseudonym=f"{i:064d}") for i in range(5)))
    assert await claim(db, NOW, limit=2) == ids[:2]
    assert await claim(db, NOW, limit=2) == ids[2:4]
    assert await claim(db, NOW, limit=2) == ids[4:]
    assert await claim(db, NOW, limit=2) == []


async def test_a_persons_row_never_overtakes_an_earlier_one_that_is_not_due(db: Database) -> None:
    alice, bob = "a" * 64, "b" * 64
    a1, a2, b1, a3 = await add_outbox(
        db, outbox_row(alice), outbox_row(alice), outbox_row(bob), outbox_row(alice)
    )
    # Due together, a person's rows are taken together (the worker sends them in order).
    assert await claim(db, NOW, limit=2) == [a1, a2]
    # While Alice's earlier rows are claimed, her later one waits; Bob is not held up.
    assert await claim(db, NOW) == [b1]
    async with db.uow() as uow:
        await uow.outbox.mark_sent(a1, NOW)
        await uow.outbox.mark_retry(a2, "timeout", NOW + timedelta(seconds=30))
        await uow.commit()
    assert await claim(db, NOW + timedelta(seconds=29)) == []  # a3 waits for a2's backoff too
    assert await claim(db, NOW + timedelta(seconds=30)) == [a2, a3]
    # A sent, failed or held earlier row holds nothing up.
    later = await add_outbox(
        db, outbox_row(bob, status="failed"), outbox_row(bob, status="held"), outbox_row(bob)
    )
    async with db.uow() as uow:
        await uow.outbox.mark_sent(b1, NOW)
        await uow.commit()
    assert await claim(db, NOW) == [later[-1]]


async def test_claimed_row_is_claimed_again_only_after_its_lease(db: Database) -> None:
    (row_id,) = await add_outbox(db, outbox_row())
    assert await claim(db, NOW) == [row_id]
    assert await claim(db, NOW) == []
    assert await claim(db, NOW + LEASE) == []  # the lease runs until locked_until, inclusive
    expired = NOW + LEASE + timedelta(seconds=1)
    assert await claim(db, expired) == [row_id]
    row = await get_outbox(db, row_id)
    assert row.attempts == 2
    assert row.locked_until == expired + LEASE
    assert await claim(db, expired) == []


async def test_two_concurrent_claimers_never_share_a_row_and_together_take_all(db: Database) -> None:
    ids = await add_outbox(db, *(outbox_row(pseudonym=f"{i:064d}") for i in range(100)))

    async def claimer() -> list[int]:
        taken: list[int] = []
        while batch := await claim(db, NOW, limit=7):
            taken.extend(batch)
        return taken

    first, second = await asyncio.gather(claimer(), claimer())
    assert not set(first) & set(second)
    assert sorted(first + second) == ids
    assert len(first) + len(second) == 100
    async with db.uow() as uow:
        attempts = (await uow.session.execute(select(OutboxRow.attempts))).scalars().all()
    assert set(attempts) == {1}


async def test_mark_sent_retry_and_failed(db: Database) -> None:
    sent, retried, failed = await add_outbox(db, outbox_row(), outbox_row(), outbox_row())
    assert await claim(db, NOW) == [sent, retried, failed]
    later = NOW + timedelta(seconds=5)
    retry_at = NOW + timedelta(seconds=30)
    async with db.uow() as uow:
        await uow.outbox.mark_sent(sent, later, "provider-17")
        await uow.outbox.mark_retry(retried, "E" * 300, retry_at)
        await uow.outbox.mark_failed(failed, "blocked by the user")
        await uow.commit()

    row = await get_outbox(db, sent)
    assert (row.status, row.sent_at, row.provider_id, row.locked_until) == (
        "sent",
        later,
        "provider-17",
        None,
    )
    row = await get_outbox(db, retried)
    assert (row.status, row.next_attempt_at, row.locked_until) == ("pending", retry_at, None)
    assert row.last_error == "E" * 200  # cut to the column's size
    row = await get_outbox(db, failed)
    assert (row.status, row.last_error, row.locked_until, row.sent_at) == (
        "failed",
        "blocked by the user",
        None,
        None,
    )
    # Only the retried row comes back, and only when its time has come.
    assert await claim(db, retry_at - timedelta(seconds=1)) == []
    assert await claim(db, retry_at) == [retried]
    async with db.uow() as uow:
        assert await uow.outbox.backlog() == 1


async def test_delivered_to_and_mark_pulled(db: Database) -> None:
    alice, bob = "a" * 64, "b" * 64
    a1, b1, a2, a3 = await add_outbox(
        db,
        outbox_row(alice, channel="webchat", payload={"text": "one"}),
        outbox_row(bob, channel="webchat"),
        outbox_row(alice, channel="webchat", payload={"text": "two"}),
        outbox_row(alice, channel="webchat", payload={"text": "three"}),
    )
    async with db.uow() as uow:
        assert [r.id for r in await uow.outbox.delivered_to(alice, 0)] == [a1, a2, a3]
        assert [r.id for r in await uow.outbox.delivered_to(alice, a1)] == [a2, a3]
        assert [r.id for r in await uow.outbox.delivered_to(alice, 0, limit=2)] == [a1, a2]
        assert [r.payload["text"] for r in await uow.outbox.delivered_to(alice, a2)] == ["three"]
        assert await uow.outbox.delivered_to(alice, a3) == []
        assert [r.id for r in await uow.outbox.delivered_to(bob, 0)] == [b1]

    pulled = NOW + timedelta(seconds=3)
    async with db.uow() as uow:
        await uow.outbox.mark_pulled([a1, a2], pulled)
        await uow.outbox.mark_pulled([], pulled)  # nothing to do
        await uow.commit()
    async with db.uow() as uow:
        await uow.outbox.mark_pulled([a1, a3], pulled + timedelta(seconds=1))  # a1 again: unchanged
        await uow.commit()
    for row_id, sent_at, attempts in (
        (a1, pulled, 1),
        (a2, pulled, 1),
        (a3, pulled + timedelta(seconds=1), 1),
    ):
        row = await get_outbox(db, row_id)
        assert (row.status, row.sent_at, row.attempts) == ("sent", sent_at, attempts)
    row = await get_outbox(db, b1)
    assert (row.status, row.sent_at) == ("pending", None)
    # A pull channel still reads its replies after they were marked pulled (a second tab, a reload).
    async with db.uow() as uow:
        assert [r.id for r in await uow.outbox.delivered_to(alice, 0)] == [a1, a2, a3]


async def test_forget_pseudonym_erases_only_that_persons_rows(db: Database) -> None:
    alice, bob = "a" * 64, "b" * 64
    _, _, b1 = await add_outbox(db, outbox_row(alice), outbox_row(alice, status="sent"), outbox_row(bob))
    async with db.uow() as uow:
        assert await uow.outbox.forget_pseudonym(alice) == 2
        assert await uow.outbox.forget_pseudonym("nobody") == 0
        await uow.commit()
    async with db.uow() as uow:
        ids = (await uow.session.execute(select(OutboxRow.id))).scalars().all()
    assert list(ids) == [b1]


async def test_sent_refs_lists_recent_provider_ids_of_sent_rows(db: Database) -> None:
    alice = "a" * 64
    old, recent, _pending, none = await add_outbox(
        db, outbox_row(alice), outbox_row(alice), outbox_row(alice), outbox_row(alice)
    )
    async with db.uow() as uow:
        await uow.outbox.mark_sent(old, NOW - timedelta(days=3), "old-ref")
        await uow.outbox.mark_sent(recent, NOW, "recent-ref")
        await uow.outbox.mark_sent(none, NOW, None)
        await uow.commit()
    async with db.uow() as uow:
        assert await uow.outbox.sent_refs(alice, NOW - timedelta(days=2)) == ["recent-ref"]
        assert await uow.outbox.sent_refs("b" * 64, NOW - timedelta(days=2)) == []


async def test_the_core_inserts_write_what_the_orm_would_for_columns_left_unset(db: Database) -> None:
    """Messages and outbox rows go in as Core statements; a column the caller leaves out must get the
    model's default, as an ORM insert would give it."""
    conversation = ConversationRow(
        id="c" * 36, channel="webchat", language="nb", state={}, created_at=NOW, updated_at=NOW
    )
    required = {"conversation_id": conversation.id, "direction": "in", "text": "hei", "created_at": NOW}

    def columns(row: Any) -> dict[str, Any]:
        return {c.key: getattr(row, c.key) for c in inspect(type(row)).columns if c.key != "id"}

    def outbox_unset() -> OutboxRow:
        fields = columns(outbox_row())
        return OutboxRow(**{k: v for k, v in fields.items() if k not in ("status", "attempts")})

    async with db.uow() as uow:
        uow.conversations.add(conversation)
        uow.messages.add(MessageRow(**required))
        uow.messages.stage(**required)
        uow.session.add(outbox_unset())
        await uow.flush()
        await uow.outbox.add(outbox_unset())
        await uow.commit()

    by_orm, by_core = [columns(row) for row in await fetch(db, select(MessageRow).order_by(MessageRow.id))]
    assert by_core == by_orm
    assert by_core["sender"] == "person"
    assert by_core["attachments"] == 0
    by_orm, by_core = [columns(row) for row in await fetch(db, select(OutboxRow).order_by(OutboxRow.id))]
    assert by_core == by_orm
    assert (by_core["status"], by_core["attempts"]) == ("pending", 0)


# ---- Stats ----


async def test_stats_put_inserts_then_corrects_the_same_record(db: Database) -> None:
    async with db.uow() as uow:
        key = await uow.stats.put(None, month="2026-11", channel="sms", role="self", topics=["fgm"])
        await uow.commit()
    async with db.uow() as uow:
        again = await uow.stats.put(key, role="family", topics=["fgm", "abroad"], outside_hours=True)
        await uow.commit()
    assert again == key
    records = await fetch(db, select(StatRecordRow))
    assert len(records) == 1
    record = records[0]
    assert (record.key, record.month, record.channel, record.role) == (key, "2026-11", "sms", "family")
    assert record.topics == ["fgm", "abroad"]
    assert record.outside_hours is True
    assert record.follow_up is False


async def test_stats_put_with_an_unknown_key_inserts_a_new_record(db: Database) -> None:
    async with db.uow() as uow:
        key = await uow.stats.put("00000000-0000-0000-0000-000000000000", month="2026-11", channel="sms")
        await uow.commit()
    async with db.uow() as uow:
        keys = [r.key for r in await uow.stats.all()]
    assert keys == [key]


# ---- Types and schema ----


async def test_aware_datetimes_come_back_aware_in_utc(db: Database) -> None:
    oslo_time = datetime.fromisoformat("2026-03-29T03:30:00+02:00")  # just after the DST change
    async with db.uow() as uow:
        await uow.contacts.touch("a" * 64, "sms", b"x", oslo_time)
        await uow.commit()
    async with db.uow() as uow:
        row = await uow.contacts.by_pseudonym("a" * 64)
        assert row is not None
        raw = (await uow.session.execute(select(ContactRow.created_at))).scalar_one()
        uow.session.expunge_all()
    for value in (row.created_at, row.last_seen_at, raw):
        assert value.tzinfo is not None
        assert value.utcoffset() == timedelta(0)
        assert value == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)


async def test_naive_datetimes_are_refused(db: Database) -> None:
    async with db.uow() as uow:
        with pytest.raises(StatementError, match="naive datetime"):
            await uow.contacts.touch("a" * 64, "sms", b"x", datetime(2026, 11, 24, 9, 0))


async def test_migrations_run_twice_are_idempotent(engine: AsyncEngine, db: Database) -> None:
    async with db.uow() as uow:
        await uow.contacts.touch("a" * 64, "sms", b"x", NOW)
        await uow.commit()
    await migrate(engine)
    await migrate(engine)

    def tables(connection: Any) -> set[str]:
        return set(inspect(connection).get_table_names())

    async with engine.connect() as conn:
        names = await conn.run_sync(tables)
        versions = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalars().all()
    assert names >= TABLES | {"alembic_version"}
    assert list(versions) == [ScriptDirectory.from_config(alembic_config()).get_current_head()]
    async with db.uow() as uow:
        assert await uow.contacts.by_pseudonym("a" * 64) is not None  # data survives


async def test_schema_matches_the_models(engine: AsyncEngine) -> None:
    """The migration creates what the models declare: no column a model has is missing in the database."""
    from intake.storage.models import Base

    def columns(connection: Any) -> dict[str, set[str]]:
        inspector = inspect(connection)
        return {name: {c["name"] for c in inspector.get_columns(name)} for name in TABLES}

    async with engine.connect() as conn:
        found = await conn.run_sync(columns)
    for name in TABLES:
        assert found[name] == {c.name for c in Base.metadata.tables[name].columns}, name


def test_stat_records_table_has_no_link_to_a_person() -> None:
    columns = {c.name for c in StatRecordRow.__table__.columns}
    assert not columns & {"pseudonym", "address_enc", "contact_id", "conversation_id", "text", "created_at"}
    assert not StatRecordRow.__table__.foreign_keys
