"""The delete word wins over every other rule: whatever state the sender or the conversation is in, and in
every channel, the person gets the confirmation and the transcript and the link to them are gone."""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable
from contextlib import closing
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from intake.flow import FlowState, erase
from intake.hours import OpeningHours
from intake.messages import Channel
from intake.queue import Categorisation
from intake.service import IntakeService
from intake.storage.db import make_engine, migrate
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
from tests.integration.test_service import contains, dump, raw_sqlite_bytes

SECRET = "my uncle took my passport"
ADDRESSES = {Channel.WEBCHAT: "chat-token-4711", Channel.TELEGRAM: "4711", Channel.SMS: "+4791234567"}
DELETE_WORD = {Channel.WEBCHAT: "DELETE", Channel.TELEGRAM: "/delete", Channel.SMS: "SLETT"}


async def _only_conversation(service: IntakeService) -> str:
    """The person's conversation: the newest (the bystander wrote first)."""
    return (await conversations(service.db))[-1].id


async def blocked(service: IntakeService, person: Writer, clock: Clock) -> None:
    await person.says(SECRET)
    await build_desk(service).block(await _only_conversation(service), "anna", hours=24)
    await person.says("are you there?")  # gets the one neutral line; later ones get nothing


async def rate_limited(service: IntakeService, person: Writer, clock: Clock) -> None:
    await person.says(SECRET)
    for i in range(service.max_per_minute + 3):
        await person.says(f"please {i}")


async def held_by_staff(service: IntakeService, person: Writer, clock: Clock) -> None:
    await person.says(SECRET)
    await build_desk(service).claim(await _only_conversation(service), "anna")


async def closed(service: IntakeService, person: Writer, clock: Clock) -> None:
    await held_by_staff(service, person, clock)
    await build_desk(service).close(await _only_conversation(service), "anna", Categorisation())
    clock.advance(days=1)


async def out_of_hours(service: IntakeService, person: Writer, clock: Clock) -> None:
    service.hours = OpeningHours.from_config(ALWAYS_CLOSED)
    await person.says(SECRET)


async def opted_out(service: IntakeService, person: Writer, clock: Clock) -> None:
    await person.says(SECRET)
    await person.says("STOP")


State = Callable[[IntakeService, Writer, Clock], Awaitable[None]]
STATES: list[State] = [blocked, rate_limited, held_by_staff, closed, out_of_hours]
CASES = [
    pytest.param(state, channel, id=f"{state.__name__}-{channel}")
    for state in STATES
    for channel in ADDRESSES
    # Opting out is an SMS and WhatsApp thing: elsewhere STOP is just text.
] + [pytest.param(opted_out, Channel.SMS, id="opted_out-sms")]


@pytest.mark.parametrize(("state", "channel"), CASES)
async def test_the_delete_word_wins_in_every_state_and_channel(
    engine: AsyncEngine, state: State, channel: Channel
) -> None:
    clock = Clock()
    service = build_service(engine, clock, OpeningHours.from_config(ALWAYS_OPEN))
    person = Writer(service, ADDRESSES[channel], channel)
    bystander = Writer(service, "someone-else", channel)
    await bystander.says("hei")
    clock.advance(seconds=1)  # the person's conversation is the newer one
    await state(service, person, clock)

    await person.says(DELETE_WORD[channel])

    # The one reply left for the person is the confirmation, asking the device to erase too.
    (confirmation,) = await outbox(service.db, person.pseudonym)
    ctx = await service.context(clock(), channel)
    assert confirmation.status == "pending"
    assert confirmation.payload["erase"] is True
    assert (
        confirmation.payload["text"]
        == erase(FlowState(lang=confirmation.payload["lang"]), ctx).replies[0].text
    )
    # Nothing of the person's conversations is left; the bystander's is untouched.
    assert len(await conversations(service.db)) == 1
    for table, column, value in await dump(engine):
        assert not contains(value, SECRET), (table, column)
        assert not contains(value, DELETE_WORD[channel]), (table, column)


async def test_erased_text_is_in_neither_the_sqlite_file_nor_its_write_ahead_log(tmp_path: Path) -> None:
    """SQLite's files only: on PostgreSQL erasure leaves dead rows until VACUUM (see the README)."""
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'helpline.db'}"
    engine = make_engine(database_url)
    await migrate(engine)
    try:
        await _erase_and_read_the_files(engine, database_url)
    finally:
        await engine.dispose()


async def _erase_and_read_the_files(engine: AsyncEngine, database_url: str) -> None:
    service = build_service(engine, Clock(), OpeningHours.from_config(ALWAYS_OPEN))
    person = Writer(service, ADDRESSES[Channel.TELEGRAM])
    await Writer(service, "someone-else").says("hei")
    await person.says(SECRET)
    # Text is stored encrypted, so the files are searched for the stored (sealed) values themselves.
    before = stored_texts(database_url)
    raw = raw_sqlite_bytes(database_url)
    assert all(value in raw for value in before)  # written, so the check below means something

    await person.says("SLETT")

    # Read while the service still runs (the engine keeps its connections open): a closing last
    # connection would checkpoint by itself and hide a WAL that keeps the text.
    kept = stored_texts(database_url)
    erased = before - kept
    assert erased
    assert kept
    raw = raw_sqlite_bytes(database_url)
    assert all(value in raw for value in kept)  # the files are readable...
    assert not [value for value in erased if value in raw]  # ...and the erased text is gone from both


def stored_texts(database_url: str) -> set[bytes]:
    """The messages' text column as stored, read through a separate read-only connection."""
    path = database_url.split("///", 1)[1]
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        return {str(value).encode() for (value,) in conn.execute("SELECT text FROM messages")}
