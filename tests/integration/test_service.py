"""IntakeService over a real database (SQLite and PostgreSQL): what a person's messages leave behind."""

from __future__ import annotations

import asyncio
import logging
import re
import tempfile
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine

from intake import content as c
from intake.flow import FlowContext, FlowInput, FlowState, Step, step
from intake.hours import OpeningHours, default_hours
from intake.keywords import Keyword, default_table
from intake.messages import Channel, Reply
from intake.service import MAX_TEXT, IntakeService, Outcome
from intake.storage.db import is_sqlite, make_engine, migrate
from intake.storage.models import StatRecordRow
from intake.storage.uow import Database
from tests.conftest import OSLO
from tests.integration.conftest import (
    ALWAYS_CLOSED,
    ALWAYS_OPEN,
    Clock,
    Writer,
    build_service,
    conversations,
    messages,
    outbox,
    texts,
)
from tests.said import said as shown

ADDRESS = "4711-chat-address"
# A typed intake in Norwegian: hello, bokmål, safe, about me, two topics, under 18, woman, wants out.
TYPED_INTAKE = ["hei", "1", "ja", "Det gjelder meg", "2 3", "1", "1", "3"]
# The same by buttons in English.
BUTTON_INTAKE: list[tuple[str, str | None]] = [
    ("hello", None),
    ("", "en"),
    ("", "yes"),
    ("", "self"),
    ("", "forced_marriage"),
    ("", "done"),
    ("", "adult"),
    ("", "woman"),
    ("", "needs_time"),
]


async def expected_replies(service: IntakeService, channel: str, inputs: Sequence[str]) -> list[str]:
    """The replies the pure flow gives for these inputs in the service's context: what the outbox holds."""
    ctx = await service.context(service.clock(), channel)
    state = FlowState()
    replies: list[Reply] = []
    for said in inputs:
        result = step(state, FlowInput(said), ctx)
        state = result.state
        replies.extend(result.replies)
    return [reply.text for reply in replies]


async def stats(db: Database) -> list[StatRecordRow]:
    async with db.uow() as uow:
        rows = list(await uow.stats.all())
        uow.session.expunge_all()
        return rows


async def dump(engine: AsyncEngine) -> list[tuple[str, str, Any]]:
    """Every value in every table of the database, as the driver returns it (JSON as its stored text)."""

    def table_names(connection: Any) -> list[str]:
        return list(inspect(connection).get_table_names())

    found: list[tuple[str, str, Any]] = []
    async with engine.connect() as conn:
        for table in await conn.run_sync(table_names):
            result = await conn.execute(text(f'SELECT * FROM "{table}"'))  # noqa: S608 - reflected names
            for row in result.mappings():
                found.extend((table, column, value) for column, value in row.items())
    return found


def contains(value: Any, needle: str) -> bool:
    if isinstance(value, bytes | bytearray | memoryview):
        return needle.encode() in bytes(value)
    return needle in str(value)


def raw_sqlite_bytes(url: str) -> bytes:
    path = Path(url.split("///", 1)[1])
    return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())


# ---- The whole intake ----


async def test_whole_intake_queues_the_conversation_and_writes_an_anonymous_record(
    service: IntakeService, db: Database, engine: AsyncEngine
) -> None:
    person = Writer(service, ADDRESS)
    expected = await expected_replies(service, "telegram", TYPED_INTAKE)
    for said in TYPED_INTAKE:
        assert await person.says(said) == Outcome.ACCEPTED

    (conv,) = await conversations(db)
    assert conv.status == "queued"
    assert conv.queued_at == service.clock()
    assert (conv.danger, conv.under18, conv.outside_hours) == (False, True, False)
    assert conv.language == "nb"
    assert FlowState.from_json(conv.state).step is Step.HANDED_OFF
    assert conv.stat_key is not None

    (record,) = await stats(db)
    assert record.key == conv.stat_key
    assert re.fullmatch(r"[0-9]{4}-[0-9]{2}", record.month)
    assert record.month == "2026-11"
    assert (record.channel, record.role, record.kind, record.age_group, record.gender) == (
        "telegram",
        "self",
        None,
        "under_18",
        "woman",
    )
    assert record.topics == ["forced_marriage", "fgm"]
    assert record.outside_hours is False
    values = [str(getattr(record, column.key)) for column in StatRecordRow.__table__.columns]
    for secret in (person.pseudonym, ADDRESS, *[t for t in TYPED_INTAKE if len(t) > 2]):
        assert not any(secret in value for value in values), secret

    # Every inbound text is stored, every reply is in the outbox, in order, as the flow said them.
    inbound = await messages(db, "in")
    assert [m.text for m in inbound] == TYPED_INTAKE
    rows = await outbox(db)
    assert texts(rows) == expected
    assert [r.id for r in rows] == sorted(r.id for r in rows)
    assert {(r.channel, r.pseudonym, r.status, r.conversation_id) for r in rows} == {
        ("telegram", person.pseudonym, "pending", conv.id)
    }
    assert texts(rows)[0].startswith("Hei")
    nb = service.catalogs.texts("nb")
    assert texts(rows)[-2].startswith(nb(c.HANDOFF_OPEN))
    assert texts(rows)[-1] == nb(c.MORE_INFO)
    outbound = await messages(db, "out")
    assert [(m.outbox_id, m.text, m.delivery) for m in outbound] == [
        (r.id, r.payload["text"], "pending") for r in rows
    ]
    # The transcript reads in order: each person's message, then the replies to it.
    transcript = await messages(db)
    assert [m.direction for m in transcript][:4] == ["in", "out", "out", "in"]


async def test_whole_intake_by_buttons_in_english(service: IntakeService, db: Database) -> None:
    person = Writer(service, ADDRESS)
    for said, choice in BUTTON_INTAKE:
        await person.says(said, choice)
    (conv,) = await conversations(db)
    assert (conv.status, conv.language, conv.under18, conv.danger) == ("queued", "en", False, False)
    (record,) = await stats(db)
    assert (record.role, record.age_group, record.gender, record.topics) == (
        "self",
        "adult",
        "woman",
        ["forced_marriage"],
    )
    rows = await outbox(db)
    assert texts(rows)[-2].startswith(c.HANDOFF_OPEN)
    assert texts(rows)[-1] == c.MORE_INFO
    # The advice for the situation is offered, and arrives when asked for.
    advice = shown(service.catalogs.texts("en"), c.SITUATION_INFO["needs_time"])
    assert advice not in texts(rows)
    await person.says("", "more_advice")
    assert advice in texts(await outbox(db))[len(rows) :]
    # The person's answers by button are stored as what they were: empty texts, one row each.
    assert len(await messages(db, "in")) == len(BUTTON_INTAKE) + 1


async def test_restart_mid_conversation_resumes_at_the_same_step(database_url: str) -> None:
    clock = Clock()
    hours = OpeningHours.from_config(ALWAYS_OPEN)
    first_engine = make_engine(database_url)
    await migrate(first_engine)
    first = Writer(build_service(first_engine, clock, hours), ADDRESS)
    await first.says("hello")
    await first.says(choice="en")
    await first.says(choice="yes")
    await first_engine.dispose()

    second_engine = make_engine(database_url)
    try:
        await migrate(second_engine)
        service = build_service(second_engine, clock, hours)
        second = Writer(service, ADDRESS)
        second.sent = first.sent  # the channel's message ids go on
        before = len(await outbox(service.db))
        await second.says(choice="self")
        (conv,) = await conversations(service.db)
        state = FlowState.from_json(conv.state)
        assert (state.step, state.lang, state.role) == (Step.TOPICS, "en", "self")
        new = texts(await outbox(service.db))[before:]
        assert new == [c.ASK_TOPICS]
        assert len(await messages(service.db, "in")) == 4
    finally:
        await second_engine.dispose()


async def test_duplicate_delivery_is_stored_and_answered_once(service: IntakeService, db: Database) -> None:
    woken: list[Sequence[str]] = []
    service.on_replies = woken.append
    person = Writer(service, ADDRESS)
    assert await person.says("hello", provider_id="update-1") == Outcome.ACCEPTED
    replies = texts(await outbox(db))
    assert await person.says("hello", provider_id="update-1") == Outcome.DUPLICATE
    assert await person.says("something else", provider_id="update-1") == Outcome.DUPLICATE
    assert [m.text for m in await messages(db, "in")] == ["hello"]
    assert texts(await outbox(db)) == replies
    assert len(replies) == 2  # greeting, language menu
    assert woken == [[person.pseudonym]]
    # Another id from the same person is a new message.
    assert await person.says("hello", provider_id="update-2") == Outcome.ACCEPTED
    assert len(await messages(db, "in")) == 2


async def test_concurrent_duplicate_deliveries_are_stored_once(service: IntakeService, db: Database) -> None:
    person = Writer(service, ADDRESS)
    outcomes = await asyncio.gather(*(person.says("hello", provider_id="update-1") for _ in range(4)))
    assert sorted(outcomes) == sorted([Outcome.ACCEPTED, *[Outcome.DUPLICATE] * 3])
    assert len(await messages(db, "in")) == 1
    assert len(await conversations(db)) == 1


async def test_concurrent_first_messages_from_one_person_open_one_conversation(
    service: IntakeService, db: Database
) -> None:
    person = Writer(service, ADDRESS)
    await asyncio.gather(*(person.says(f"message {i}", provider_id=f"id-{i}") for i in range(4)))
    assert len(await conversations(db)) == 1
    assert sorted(m.text for m in await messages(db, "in")) == [f"message {i}" for i in range(4)]


# ---- Delete ----


async def test_delete_keyword_erases_the_persons_data_but_keeps_the_anonymous_record(
    service: IntakeService, db: Database, engine: AsyncEngine, database_url: str
) -> None:
    person = Writer(service, ADDRESS)
    other = Writer(service, "other-address-0815")
    for said, choice in BUTTON_INTAKE:
        await person.says(said, choice)
    await person.says("my brother reads my phone")
    await other.says("hei")
    (record_before,) = await stats(db)

    assert await person.says("DELETE") == Outcome.ACCEPTED

    # Only the other person's conversation and messages are left.
    remaining = await conversations(db)
    assert len(remaining) == 1
    assert [m.text for m in await messages(db, "in")] == ["hei"]
    everything = await dump(engine)
    for secret in ("my brother reads my phone", "DELETE"):
        assert not any(contains(value, secret) for _, _, value in everything), secret
    # The one stored reply to the person is the confirmation, which asks the device to erase too.
    (confirmation,) = await outbox(db, person.pseudonym)
    assert confirmation.payload["text"] == shown(service.catalogs.texts("en"), c.ERASED[Channel.TELEGRAM])
    assert confirmation.payload["erase"] is True
    assert confirmation.conversation_id is None
    # The address is readable (decryptable) only in that confirmation, and stored in plain text nowhere.
    readable = []
    for table, column, value in everything:
        assert not contains(value, ADDRESS), (table, column)
        if isinstance(value, bytes | memoryview):
            try:
                if service.keys.decrypt(bytes(value)) == ADDRESS:
                    readable.append((table, column))
            except Exception:  # noqa: S112 - not an encrypted address
                continue
    assert readable == [("outbox", "address_enc")]
    # The anonymous record stays, unchanged.
    (record_after,) = await stats(db)
    assert (record_after.key, record_after.role, record_after.topics) == (
        record_before.key,
        record_before.role,
        record_before.topics,
    )


async def test_after_delete_the_person_starts_afresh(service: IntakeService, db: Database) -> None:
    person = Writer(service, ADDRESS)
    await person.says("hello")
    await person.says(choice="en")
    await person.says("slett")
    (confirmation,) = await outbox(db, person.pseudonym)
    assert confirmation.payload["text"] == shown(
        service.catalogs.texts("en"), c.ERASED[Channel.TELEGRAM]
    )  # in their language
    await person.says("hello again")
    (conv,) = await conversations(db)
    assert FlowState.from_json(conv.state).step is Step.LANGUAGE
    assert [m.text for m in await messages(db, "in")] == ["hello again"]


# ---- Priority, hours ----


async def test_danger_word_marks_the_conversation_and_puts_it_first_in_the_queue(
    service: IntakeService, db: Database, clock: Clock
) -> None:
    waiting = Writer(service, "waiting-person")
    for said, choice in BUTTON_INTAKE:
        await waiting.says(said, choice)
    clock.advance(minutes=30)
    urgent = Writer(service, ADDRESS)
    await urgent.says("hello")
    await urgent.says("they will kill me if I say no")

    async with db.uow() as uow:
        queue = [(conv.contact_id, conv.danger) for conv in await uow.conversations.queue()]
        contact = await uow.contacts.by_pseudonym(urgent.pseudonym)
        assert contact is not None
        urgent_id = contact.id
    assert len(queue) == 2
    assert queue[0] == (urgent_id, True)
    assert queue[1][1] is False
    replies = texts(await outbox(db, urgent.pseudonym))
    assert shown(service.catalogs.texts("nb"), c.DANGER) in replies
    (urgent_conv,) = [conv for conv in await conversations(db) if conv.contact_id == urgent_id]
    assert (urgent_conv.status, urgent_conv.queued_at) == ("queued", clock())


async def test_out_of_hours_queues_with_outside_hours_and_names_the_next_opening(engine: AsyncEngine) -> None:
    saturday = datetime(2026, 11, 28, 12, 0, tzinfo=OSLO)
    clock = Clock(saturday)
    service = build_service(engine, clock, default_hours())
    person = Writer(service, ADDRESS)
    for said, choice in BUTTON_INTAKE:
        await person.says(said, choice)

    (conv,) = await conversations(service.db)
    assert (conv.status, conv.outside_hours) == ("queued", True)
    (record,) = await stats(service.db)
    assert record.outside_hours is True
    opening = datetime(2026, 11, 30, 9, 0, tzinfo=OSLO)  # Monday morning
    assert service.hours.next_opening(clock(), "telegram") == opening
    t = service.catalogs.texts("en")
    closed = t(c.HANDOFF_CLOSED, time=t.moment(opening, clock(), OSLO))
    replies = texts(await outbox(service.db))
    assert replies[-2].startswith(closed)
    assert replies[-2].endswith(t(c.CALL_112))
    assert "Monday" in closed
    assert "9:00" in closed
    # The services open day and night, when asked for by typing the offer's number.
    await person.says("3")
    replies = texts(await outbox(service.db))
    assert any("\nOpen day and night" in reply for reply in replies)
    # A message left afterwards is kept and acknowledged once.
    before = len(replies)
    await person.says("please call me back")
    await person.says("and tomorrow?")
    assert texts(await outbox(service.db))[before:] == [shown(service.catalogs.texts("en"), c.LEFT_MESSAGE)]
    assert [m.text for m in await messages(service.db, "in")][-2:] == ["please call me back", "and tomorrow?"]


async def test_line_that_never_opens_says_so_and_queues_outside_hours(engine: AsyncEngine) -> None:
    service = build_service(engine, Clock(), OpeningHours.from_config(ALWAYS_CLOSED))
    person = Writer(service, ADDRESS)
    await person.says("hello")
    await person.says("I am locked in my room")  # danger: handed over at once
    (conv,) = await conversations(service.db)
    assert (conv.status, conv.outside_hours, conv.danger) == ("queued", True, True)
    t = service.catalogs.texts("nb")
    replies = texts(await outbox(service.db))
    assert shown(t, c.HANDOFF_CLOSED_UNKNOWN) in replies


async def test_open_hours_without_staff_signed_in_promise_no_opening_time(engine: AsyncEngine) -> None:
    clock = Clock()  # Tuesday 10:00: inside the published hours
    service = build_service(engine, clock, default_hours())

    async def nobody_signed_in() -> bool:
        return False

    service.staffed = nobody_signed_in
    person = Writer(service, ADDRESS)
    await person.says("hello")
    await person.says("they took my passport")
    (conv,) = await conversations(service.db)
    assert (conv.status, conv.outside_hours) == ("queued", True)
    t = service.catalogs.texts("nb")
    replies = texts(await outbox(service.db))
    # "Closed now and open <now>" would be a broken promise: say when nobody knows instead.
    assert shown(t, c.HANDOFF_CLOSED_UNKNOWN) in replies
    assert t(c.HANDOFF_OPEN) not in replies
    assert not any(t(c.HANDOFF_CLOSED).split("{time}")[0] in reply for reply in replies)


# ---- Privacy ----


async def test_address_is_stored_only_encrypted(
    service: IntakeService, db: Database, engine: AsyncEngine, database_url: str
) -> None:
    person = Writer(service, ADDRESS)
    for said, choice in BUTTON_INTAKE:
        await person.says(said, choice)
    everything = await dump(engine)
    assert everything
    assert not [(table, column) for table, column, value in everything if contains(value, ADDRESS)]
    if is_sqlite(database_url):
        await engine.dispose()  # nothing left in memory: read the files as an attacker would
        raw = raw_sqlite_bytes(database_url)
        assert b"forced_marriage" in raw  # the files are readable...
        assert ADDRESS.encode() not in raw  # ...and hold no address
    async with db.uow() as uow:
        contact = await uow.contacts.by_pseudonym(person.pseudonym)
        assert contact is not None
        assert service.keys.decrypt(contact.address_enc) == ADDRESS


async def test_logs_hold_no_text_or_address(
    service: IntakeService, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any) -> Any:
        raise RuntimeError("flow broke")

    caplog.set_level(logging.INFO)  # the level the service runs at
    person = Writer(service, ADDRESS)
    await person.says("my secret words")
    monkeypatch.setattr("intake.service.step", broken)
    await person.says("more secret words")
    assert caplog.records  # the failure is logged...
    for record in caplog.records:
        logged = record.getMessage() + (record.exc_text or "")
        assert "secret words" not in logged  # ...without what the person wrote
        assert ADDRESS not in logged


# ---- Failures ----


async def test_flow_that_raises_still_stores_queues_and_hands_over(
    service: IntakeService, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(state: FlowState, given: FlowInput, ctx: FlowContext) -> Any:
        raise RuntimeError("flow broke")

    monkeypatch.setattr("intake.service.step", broken)
    person = Writer(service, ADDRESS)
    assert await person.says("I need help") == Outcome.ACCEPTED
    assert [m.text for m in await messages(db, "in")] == ["I need help"]
    (conv,) = await conversations(db)
    assert (conv.status, conv.queued_at) == ("queued", service.clock())
    assert texts(await outbox(db)) == [shown(service.catalogs.texts("nb"), c.ERROR_HANDOFF)]
    assert FlowState.from_json(conv.state).step is Step.HANDED_OFF
    # The next message is stored too, and the person stays with staff.
    assert await person.says("hello?") == Outcome.ACCEPTED
    assert [m.text for m in await messages(db, "in")] == ["I need help", "hello?"]
    assert (await conversations(db))[0].status == "queued"


async def test_flow_failure_mid_intake_keeps_the_language(
    service: IntakeService, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    person = Writer(service, ADDRESS)
    await person.says("hello")
    await person.says(choice="en")

    def broken(state: FlowState, given: FlowInput, ctx: FlowContext) -> Any:
        raise KeyError("x")

    monkeypatch.setattr("intake.service.step", broken)
    await person.says(choice="yes")
    assert texts(await outbox(db))[-1] == shown(service.catalogs.texts("en"), c.ERROR_HANDOFF)
    (conv,) = await conversations(db)
    assert conv.status == "queued"


async def test_long_and_odd_texts_are_stored(service: IntakeService, db: Database) -> None:
    person = Writer(service, ADDRESS)
    long_text = "å" * (MAX_TEXT + 500)
    odd = "emoji 🙂, rtl مرحبا, nul \x00 inside"
    assert await person.says(long_text) == Outcome.ACCEPTED
    assert await person.says(odd) == Outcome.ACCEPTED  # PostgreSQL refuses NUL in text
    assert await person.says("lone \ud800 surrogate") == Outcome.ACCEPTED  # valid JSON, not valid UTF-8
    stored = [m.text for m in await messages(db, "in")]
    assert stored == ["å" * MAX_TEXT, "emoji 🙂, rtl مرحبا, nul  inside", "lone ? surrogate"]


# ---- Property: every accepted text is stored exactly once ----

SAMPLES = [
    "hei",
    "1",
    "2",
    "3 4",
    "ja",
    "nei",
    "slett",
    "DELETE",
    "hjelp",
    "språk",
    "hopp over",
    "stop",
    "kill",
    "",
]
inputs = st.lists(
    st.tuples(
        st.one_of(
            st.sampled_from(SAMPLES),
            st.text(max_size=40),
            # Any code point, lone surrogates and NUL included (JSON can carry both).
            st.text(st.characters(exclude_categories=()), max_size=10),
        ),
        st.one_of(st.none(), st.sampled_from(["en", "nb", "yes", "self", "done", "skip", "bogus"])),
        st.booleans(),  # re-deliver the previous message id instead of a new one
    ),
    max_size=12,
)


async def _run_property(
    path: Path, channel: Channel, sequence: list[tuple[str, str | None, bool]]
) -> tuple[list[str], list[str]]:
    engine = make_engine(f"sqlite+aiosqlite:///{path}")
    try:
        await migrate(engine)
        service = build_service(engine, Clock(), OpeningHours.from_config(ALWAYS_OPEN))
        person = Writer(service, ADDRESS, channel)
        table = default_table()
        expected: list[str] = []
        last_id: str | None = None
        for said, choice, redeliver in sequence:
            provider_id = last_id if redeliver and last_id is not None else f"id-{person.sent}"
            outcome = await person.says(said, choice, provider_id=provider_id)
            assert outcome == (Outcome.DUPLICATE if provider_id == last_id else Outcome.ACCEPTED)
            last_id = provider_id
            if outcome == Outcome.DUPLICATE:
                continue
            stored_as = said.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")[:MAX_TEXT]
            if choice is None and table.keyword(stored_as) is Keyword.DELETE:
                expected = []  # the delete word erases everything before it, itself included
            else:
                expected.append(stored_as)
        stored = [m.text for m in await messages(service.db, "in")]
        return expected, stored
    finally:
        await engine.dispose()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sequence=inputs, channel=st.sampled_from([Channel.TELEGRAM, Channel.SMS]))
def test_every_accepted_text_is_stored_exactly_once(
    sequence: list[tuple[str, str | None, bool]], channel: Channel
) -> None:
    with tempfile.TemporaryDirectory() as directory:
        expected, stored = asyncio.run(_run_property(Path(directory) / "p.db", channel, sequence))
    assert stored == expected


async def test_hand_off_tells_how_many_wait_before_the_person_in_priority_order(
    service: IntakeService,
) -> None:
    """The count follows the queue's order: a person in danger is not told about calmer ones."""
    t = service.catalogs.texts("en")

    async def intake(address: str, *steps: tuple[str, str | None]) -> list[str]:
        person = Writer(service, address)
        for typed, choice in steps:
            await person.says(typed, choice)
        return texts(await outbox(service.db, person.pseudonym))

    calm = [("hello", None), ("", "en"), ("", "yes"), ("", "self"), ("", "done"), ("", "adult")]
    calm += [("", "skip"), ("", "skip")]
    first = await intake("calm-1", *calm)
    assert not any("waiting before you" in line for line in first)  # nobody ahead: nothing said
    second = await intake("calm-2", *calm)
    assert t.plural(*c.QUEUE_AHEAD, 1) in second
    assert second[-1] == "1 person is waiting before you."
    third = await intake("calm-3", *calm)
    assert third[-1] == "2 people are waiting before you."
    # Acute danger jumps the queue: none of the three is ahead of this person.
    urgent = await intake("urgent", ("hello", None), ("", "en"), ("they will kill me", None))
    assert not any("waiting before you" in line for line in urgent)
