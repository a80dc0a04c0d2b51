"""The database floor under the service's throughput: the statements the service runs for one inbound
message and its reply (counted with HELPLINE_BENCH_SQL in a real run), issued as bare SQLAlchemy Core on
one async connection, with no HTTP, no ORM objects and no flow, and the process CPU they take per
message. Whatever the service's code around them costs comes on top of this; the bare reference's whole
request costs less.

    python -m bench.floor [--messages N] [--postgres-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sqlite3
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Table, event, func, literal_column, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from bench import reference_bare as bare
from bench.__main__ import DEFAULT_POSTGRES
from intake.privacy import Keys
from intake.storage.db import make_engine, migrate
from intake.storage.models import (
    ContactRow,
    ConversationRow,
    InboundSeenRow,
    MessageRow,
    OutboxRow,
)
from intake.storage.sealed import use_cipher

CONTACTS = cast(Table, ContactRow.__table__)
CONVERSATIONS = cast(Table, ConversationRow.__table__)
SEEN = cast(Table, InboundSeenRow.__table__)
MESSAGES = cast(Table, MessageRow.__table__)
OUTBOX = cast(Table, OutboxRow.__table__)
USERS = 200
Work = Callable[[AsyncConnection, int, int, datetime], Awaitable[None]]  # one message: user, number, now
Tail = Callable[[AsyncConnection, datetime], Awaitable[int]]  # one sender round: rows sent


@dataclass(frozen=True)
class Floor:
    ms: float  # process CPU per message
    statements: float  # per message


def _insert(conn: AsyncConnection, table: Table) -> Any:
    return (postgresql if conn.dialect.name == "postgresql" else sqlite).insert(table)


async def one_message(conn: AsyncConnection, user: int, n: int, now: datetime) -> None:
    """The inbound unit of work: dedupe, contact upsert, open conversation, rate count, the reply's
    outbox row and both messages, the conversation's versioned update."""
    async with conn.begin():
        await conn.execute(
            _insert(conn, SEEN)
            .values(channel="telegram", provider_key=secrets.token_hex(16), seen_at=now)
            .on_conflict_do_nothing(index_elements=["channel", "provider_key"])
            .returning(SEEN.c.id)
        )
        contact = (
            await conn.execute(
                _insert(conn, CONTACTS)
                .values(
                    pseudonym=f"{user:064d}",
                    channel="telegram",
                    address_enc=b"x" * 60,
                    created_at=now,
                    last_seen_at=now,
                    hostile=False,
                    opted_out=False,
                    block_notified=False,
                )
                .on_conflict_do_update(index_elements=["pseudonym"], set_={"last_seen_at": now})
                .returning(*CONTACTS.c)
            )
        ).one()
        conv = (
            await conn.execute(
                select(CONVERSATIONS)
                .where(CONVERSATIONS.c.contact_id == contact.id, CONVERSATIONS.c.status == "intake")
                .order_by(CONVERSATIONS.c.created_at.desc())
                .limit(1)
            )
        ).first()
        if conv is None:
            conv_id, version = str(uuid.uuid4()), 1
            await conn.execute(
                CONVERSATIONS.insert().values(
                    id=conv_id,
                    contact_id=contact.id,
                    channel="telegram",
                    language="nb",
                    state={},
                    status="intake",
                    created_at=now,
                    updated_at=now,
                    version=1,
                )
            )
        else:
            conv_id, version = conv.id, conv.version
        await conn.execute(
            select(func.count())
            .select_from(MESSAGES)
            .where(
                MESSAGES.c.conversation_id == conv_id,
                MESSAGES.c.direction == "in",
                MESSAGES.c.created_at >= now - timedelta(minutes=1),
            )
        )
        outbox_id = (
            await conn.execute(
                OUTBOX.insert().returning(OUTBOX.c.id),
                [
                    {
                        "conversation_id": conv_id,
                        "channel": "telegram",
                        "pseudonym": contact.pseudonym,
                        "address_enc": contact.address_enc,
                        "payload": {"text": "Hei! " * 40, "lang": "nb"},
                        "status": "pending",
                        "attempts": 0,
                        "next_attempt_at": now,
                        "created_at": now,
                    }
                ],
            )
        ).scalar_one()
        message = {"conversation_id": conv_id, "sender": "person", "attachments": 0, "created_at": now}
        await conn.execute(
            MESSAGES.insert(),
            [
                {**message, "direction": "in", "text": f"answer {n}", "outbox_id": None, "delivery": None},
                {
                    **message,
                    "direction": "out",
                    "text": "Hei! " * 40,
                    "outbox_id": outbox_id,
                    "delivery": "pending",
                },
            ],
        )
        await conn.execute(
            update(CONVERSATIONS)
            .where(CONVERSATIONS.c.id == conv_id, CONVERSATIONS.c.version == version)
            .values(state={"step": n}, updated_at=now, last_inbound_at=now, version=version + 1)
        )


async def send_batch(conn: AsyncConnection, now: datetime, limit: int = 4) -> int:
    """The outbox worker's round for a batch: the two due-row queries, the claim, and after sending,
    the sent marks and the messages' delivery."""
    async with conn.begin():
        ids = [
            *(
                await conn.scalars(
                    select(OUTBOX.c.id)
                    .where(OUTBOX.c.status == literal_column("'pending'"), OUTBOX.c.next_attempt_at <= now)
                    .order_by(OUTBOX.c.id)
                    .limit(limit)
                )
            ).all(),
            *(
                await conn.scalars(
                    select(OUTBOX.c.id)
                    .where(OUTBOX.c.status == literal_column("'sending'"), OUTBOX.c.locked_until < now)
                    .limit(limit)
                )
            ).all(),
        ]
        if not ids:
            return 0
        await conn.execute(
            update(OUTBOX)
            .where(OUTBOX.c.id.in_(ids))
            .values(status="sending", attempts=OUTBOX.c.attempts + 1, locked_until=now + timedelta(minutes=1))
            .returning(*OUTBOX.c)
        )
    async with conn.begin():
        await conn.execute(
            update(OUTBOX).where(OUTBOX.c.id.in_(ids)).values(status="sent", sent_at=now, provider_id="1")
        )
        await conn.execute(update(MESSAGES).where(MESSAGES.c.outbox_id.in_(ids)).values(delivery="sent"))
    return len(ids)


def count_statements(engine: AsyncEngine) -> list[int]:
    """BEGIN and COMMIT included: on SQLite each is a statement sent to aiosqlite's thread too."""
    counted = [0]

    def one(*_: Any) -> None:
        counted[0] += 1

    for name in ("before_cursor_execute", "commit"):
        event.listen(engine.sync_engine, name, one)
    if engine.dialect.name != "sqlite":  # the service's SQLite engine sends its own BEGIN IMMEDIATE
        event.listen(engine.sync_engine, "begin", one)
    return counted


async def measure(engine: AsyncEngine, messages: int, work: Work, tail: Tail | None = None) -> Floor:
    """Process CPU per message over `messages` runs of `work` (and `tail`'s rounds until it has nothing
    left), after a warm-up in which every contact and conversation came to exist and every statement
    was compiled and cached."""
    now = datetime.now(UTC)

    async def drain(conn: AsyncConnection) -> None:
        while tail is not None and await tail(conn, now):
            pass

    async with engine.connect() as conn:
        for n in range(USERS):
            await work(conn, n, 0, now)
        await drain(conn)
        counted = count_statements(engine)
        started = time.process_time()
        for n in range(messages):
            await work(conn, n % USERS, n, now)
            if tail is not None and n % 4 == 3:
                await tail(conn, now)
        await drain(conn)
        spent = time.process_time() - started
    return Floor(1000 * spent / messages, counted[0] / messages)


async def bare_store(conn: AsyncConnection, user: int, n: int, now: datetime) -> None:
    """What the bare reference stores per update, through its own engine settings."""
    async with conn.begin():
        await conn.execute(bare.updates.insert().values(update_id=n, chat_id=user, payload="{}" * 150))


async def measure_db(url: str, messages: int) -> tuple[Floor, Floor]:
    engine = make_engine(url)  # the service's pragmas and pool
    use_cipher(engine, Keys.from_secret(secrets.token_urlsafe(32)))  # its text and payloads encrypted
    await migrate(engine)  # and its schema, indexes included
    try:
        service = await measure(engine, messages, one_message, send_batch)
    finally:
        await engine.dispose()
    engine = bare.make_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(bare.metadata.create_all)
        return service, await measure(engine, messages, bare_store)
    finally:
        await engine.dispose()


async def statement_cost(path: Path, n: int = 2000) -> tuple[float, float]:
    """Process CPU (microseconds) of one `SELECT 1` through sqlite3 directly and through SQLAlchemy on
    aiosqlite, whose every call (cursor, execute, fetch, close) is a hand-off to its thread and back."""
    direct = sqlite3.connect(path)
    started = time.process_time()
    for _ in range(n):
        direct.execute("SELECT 1").fetchall()
    sync_us = 1e6 * (time.process_time() - started) / n
    direct.close()
    engine = create_async_engine(f"sqlite+aiosqlite:///{path}")
    async with engine.connect() as conn:
        one = text("SELECT 1")
        await conn.execute(one)
        started = time.process_time()
        for _ in range(n):
            (await conn.execute(one)).all()
        async_us = 1e6 * (time.process_time() - started) / n
    await engine.dispose()
    return sync_us, async_us


def report(db: str, service: Floor, bare_floor: Floor, measured: float | None) -> str:
    lines = [
        f"{db}: the service's statements {service.ms:.2f} ms CPU per message ({service.statements:.1f} "
        f"statements); the bare reference's {bare_floor.ms:.2f} ms ({bare_floor.statements:.1f})"
    ]
    if measured is not None:
        lines.append(
            f"  the bare reference's whole request taking {measured:.2f} ms (make bench), the service could "
            f"reach at most {measured / service.ms:.2f} of its throughput if all its other code were free"
        )
    return "\n".join(lines)


async def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.floor", description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES)
    parser.add_argument(
        "--bare-ms",
        type=float,
        nargs=2,
        metavar=("SQLITE", "POSTGRES"),
        help="the bare reference's CPU per message from a make bench run, for the bound on the ratio",
    )
    args = parser.parse_args(argv)
    measured = args.bare_ms or (None, None)
    with tempfile.TemporaryDirectory() as tmp:
        floors = await measure_db(f"sqlite+aiosqlite:///{Path(tmp) / 'floor.db'}", args.messages)
        print(report("SQLite", *floors, measured[0]), flush=True)
        sync_us, async_us = await statement_cost(Path(tmp) / "one.db")
        print(
            f"  one SELECT 1: {sync_us:.1f} us CPU through sqlite3, "
            f"{async_us:.0f} us through SQLAlchemy on aiosqlite"
        )
    admin = create_async_engine(args.postgres_url, isolation_level="AUTOCOMMIT")
    name = f"helpline_floor_{secrets.token_hex(4)}"
    async with admin.connect() as conn:
        await conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        url = admin.url.set(database=name).render_as_string(hide_password=False)
        print(report("PostgreSQL (client side)", *await measure_db(url, args.messages), measured[1]))
    finally:
        async with admin.connect() as conn:
            await conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.dispose()


if __name__ == "__main__":
    asyncio.run(main())
