"""What a person is told in each state of the line, through the real service and database: in hours, out of
hours, held by staff, blocked. Every promise must hold: "urgent" only when someone reads it, 112 in every
answer out of hours, whether the line is open before the first question, never silence out of hours."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from intake import content as c
from intake.i18n import Texts
from intake.messages import Channel
from intake.service import IntakeService
from tests.conftest import OSLO, TUESDAY_10
from tests.integration.conftest import Clock, Writer, build_desk, build_service, conversations, outbox, texts
from tests.said import first_lines, said

SATURDAY_EVENING = datetime(2026, 11, 28, 20, 0, tzinfo=OSLO)


def nb(service: IntakeService) -> Texts:
    return service.catalogs.texts("nb")


async def new_replies(service: IntakeService, person: Writer, text: str, seen: list[str]) -> list[str]:
    await person.says(text)
    everything = texts(await outbox(service.db, person.pseudonym))
    fresh = everything[len(seen) :]
    seen[:] = everything
    return fresh


async def test_in_hours_the_first_reply_says_open_and_112_before_the_first_question(
    engine: AsyncEngine,
) -> None:
    service = build_service(engine, Clock(TUESDAY_10))
    person, seen = Writer(service), list[str]()
    first, question = await new_replies(service, person, "hei", seen)
    t = nb(service)
    assert first.split("\n") == [t(c.HELLO), t(c.EMERGENCY), t(c.OPEN_NOW)]
    assert "112" in first
    assert question.startswith(t(c.ASK_LANGUAGE))


async def test_out_of_hours_the_first_reply_says_closed_until_when_and_112(engine: AsyncEngine) -> None:
    service = build_service(engine, Clock(SATURDAY_EVENING))
    person, seen = Writer(service), list[str]()
    first, question = await new_replies(service, person, "hei", seen)
    lines = first.split("\n")
    assert lines[1] == nb(service)(c.EMERGENCY)
    assert lines[2] == nb(service)(c.CLOSED_UNTIL, time="mandag 09:00")
    assert question.startswith(nb(service)(c.ASK_LANGUAGE))


async def test_in_hours_danger_is_marked_urgent(engine: AsyncEngine) -> None:
    service = build_service(engine, Clock(TUESDAY_10))
    person, seen = Writer(service), list[str]()
    await new_replies(service, person, "hei", seen)
    replies = await new_replies(service, person, "de skal drepe meg", seen)
    assert replies[0] == said(nb(service), c.DANGER)
    assert not any(nb(service)(c.DANGER_CLOSED) in r for r in replies)


async def test_out_of_hours_danger_says_nobody_reads_now_call_112_and_names_the_24_7_services(
    engine: AsyncEngine,
) -> None:
    service = build_service(engine, Clock(SATURDAY_EVENING))
    person, seen = Writer(service), list[str]()
    await new_replies(service, person, "hei", seen)
    replies = await new_replies(service, person, "de skal drepe meg", seen)
    t = nb(service)
    assert replies[0] == said(t, c.DANGER_CLOSED)
    joined = "\n".join(replies)
    assert t(c.DANGER) not in joined  # no "marked as urgent" when nobody reads it
    assert "haster" not in joined
    assert said(t, c.HANDOFF_CLOSED, time="mandag 09:00") in replies
    always = "\n".join(r for r in replies if t(c.ALWAYS_OPEN).split("{services}")[0] in r)
    assert "116 111" in always  # age unknown: the children's line too
    assert "Politi 112" in always
    assert "815 55 201" not in joined  # the line's phone is closed on Saturday evening too
    (conv,) = await conversations(service.db)
    assert conv.danger


async def test_the_chat_closed_while_the_phone_is_open_names_the_lines_phone(engine: AsyncEngine) -> None:
    # Tuesday 10:00: the web chat is closed (Monday and Friday only), the phone is open (weekdays 09-16).
    service = build_service(engine, Clock(TUESDAY_10))
    person, seen = Writer(service, channel=Channel.WEBCHAT), list[str]()
    await new_replies(service, person, "hei", seen)
    replies = await new_replies(service, person, "han slår meg", seen)
    assert replies[0] == said(nb(service), c.DANGER_CLOSED)
    assert any("815 55 201" in r and "åpent nå" in r for r in replies)


async def test_out_of_hours_later_messages_get_a_neutral_acknowledgement_at_most_once_an_hour(
    engine: AsyncEngine,
) -> None:
    clock = Clock(SATURDAY_EVENING)
    service = build_service(engine, clock)
    person, seen = Writer(service), list[str]()
    await new_replies(service, person, "hei", seen)
    await new_replies(service, person, "de skal drepe meg", seen)  # handed over at once
    ack = said(nb(service), c.LEFT_MESSAGE)
    assert "112" in ack
    assert await new_replies(service, person, "er dere der?", seen) == [ack]
    clock.advance(minutes=20)
    assert await new_replies(service, person, "hallo?", seen) == []
    clock.advance(minutes=41)
    assert await new_replies(service, person, "noen?", seen) == [ack]
    # The time of the last acknowledgement lives in the conversation's stored state, not in memory.
    (conv,) = await conversations(service.db)
    assert conv.state["left_message_ack_at"] == clock().isoformat()
    fresh = build_service(engine, clock)
    assert await new_replies(fresh, Writer(fresh), "igjen", seen) == []


async def test_held_by_staff_danger_is_urgent_in_hours_and_unread_after_hours(engine: AsyncEngine) -> None:
    clock = Clock(TUESDAY_10)
    service = build_service(engine, clock)
    person, seen = Writer(service), list[str]()
    await new_replies(service, person, "hei", seen)
    await new_replies(service, person, "han slår meg", seen)
    (conv,) = await conversations(service.db)
    await build_desk(service).claim(conv.id, "anna")
    assert (await new_replies(service, person, "nå har han kniv", seen))[-1] == said(nb(service), c.DANGER)
    clock.now = SATURDAY_EVENING
    replies = await new_replies(service, person, "de skal drepe meg", seen)
    assert replies[0] == said(nb(service), c.DANGER_CLOSED)
    assert any("112" in r for r in replies[1:])


async def test_a_blocked_sender_is_told_112_once_and_nothing_else(engine: AsyncEngine) -> None:
    service = build_service(engine, Clock(TUESDAY_10))
    person, seen = Writer(service), list[str]()
    await new_replies(service, person, "hei", seen)
    (conv,) = await conversations(service.db)
    await build_desk(service).block(conv.id, "anna", hours=24)
    (reply,) = await new_replies(service, person, "de skal drepe meg", seen)
    assert first_lines([reply]) == [nb(service)(c.BLOCKED)]
    assert reply.endswith("112.")
    assert await new_replies(service, person, "hallo", seen) == []


async def test_a_flood_is_told_once_to_slow_down_with_112_on_its_second_line(engine: AsyncEngine) -> None:
    service = build_service(engine, Clock(SATURDAY_EVENING))
    service.max_per_minute = 2
    person, seen = Writer(service), list[str]()
    await new_replies(service, person, "hei", seen)
    await new_replies(service, person, "1", seen)
    (slow,) = await new_replies(service, person, "hallo", seen)
    assert slow.split("\n") == [nb(service)(c.SLOW_DOWN), nb(service)(c.CALL_112)]
    assert await new_replies(service, person, "hallo?", seen) == []


async def test_once_staff_hold_the_conversation_a_typed_number_is_for_them_not_the_offer(
    engine: AsyncEngine,
) -> None:
    clock = Clock(TUESDAY_10)
    service = build_service(engine, clock)
    person, seen = Writer(service), list[str]()
    for text in ("hei", "1", "ja", "1", "9", "2", "3", "1"):  # nb, safe, me, done, adult, skip, need to talk
        await new_replies(service, person, text, seen)
    (conv,) = await conversations(service.db)
    assert conv.status == "queued"
    # Still waiting: "3" asks for the services open day and night.
    assert any("116 123" in r for r in await new_replies(service, person, "3", seen))
    await build_desk(service).claim(conv.id, "anna")
    seen[:] = texts(await outbox(service.db, person.pseudonym))  # the "a staff member is here" notice
    # A staff member asks "how many of you live at home?": the answer "3" is for them, the bot stays quiet.
    assert await new_replies(service, person, "3", seen) == []
