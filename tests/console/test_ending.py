"""The end of a conversation as the person sees it, on SQLite and PostgreSQL: staff close it and the
person is told, neutrally, in their language; a message soon after goes back to the same staff member as
the same conversation (no greeting, no language menu again); later it starts a new intake."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bots.channels.webchat import chat as webchat_module
from intake.ending import REOPEN_WINDOW
from tests.console.conftest import Console
from tests.console.test_actions import INTAKE_ANSWERS, stat_records

ENDED_NB = "Denne samtalen er avsluttet. Du kan skrive hit igjen når som helst."


@pytest.fixture(autouse=True)
def short_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(webchat_module, "POLL_SECONDS", 0.05)


async def test_the_person_is_told_and_a_message_soon_after_reopens_it_for_the_same_member(
    console: Console,
) -> None:
    chat, conversation = await console.queued("Hei", "nb", *INTAKE_ANSWERS[1:])
    anna = await console.signed_in("anna")
    await anna.act(conversation, "claim")
    await chat.poll()
    await anna.act(conversation, "close", {})
    assert [m["text"] for m in await chat.poll()] == [ENDED_NB]

    # "Hallo? Er dere der fortsatt?": no greeting and no menu, the same conversation, anna's again.
    assert await chat.says("Hallo? Er dere der fortsatt?") == []
    again = await console.conversation_of(chat)
    assert (again.id, again.status, again.claimed_by) == (conversation, "claimed", "anna")
    assert again.closed_at is None
    queue = await anna.queue()
    assert [x["id"] for x in queue["mine"]] == [conversation]
    assert len(queue["mine"][0]["unanswered"]) == 1
    assert queue["mine"][0]["preview"] == "Hallo? Er dere der fortsatt?"
    detail = await anna.conversation(conversation)
    assert "Gjenåpnet: personen skrev igjen" in [m["text"] for m in detail["messages"]]

    # Closed again: still one inquiry, one anonymous record.
    await anna.act(conversation, "close", {})
    assert len(await stat_records(console)) == 1


async def test_a_message_long_after_the_close_starts_a_new_intake(console: Console) -> None:
    chat, conversation = await console.queued("Hei", "nb", *INTAKE_ANSWERS[1:])
    anna = await console.signed_in("anna")
    await anna.act(conversation, "claim")
    await anna.act(conversation, "close", {})
    later = datetime.now(UTC) + REOPEN_WINDOW + timedelta(minutes=1)
    console.wiring.service.clock = lambda: later
    await chat.poll()
    assert await chat.says("Hei igjen")  # the greeting and the language menu
    fresh = await console.conversation_of(chat)
    assert (fresh.id != conversation, fresh.status) == (True, "intake")


async def test_a_blocked_sender_is_not_told(console: Console) -> None:
    chat, conversation = await console.queued("Hei", "nb", *INTAKE_ANSWERS[1:])
    anna = await console.signed_in("anna")
    await anna.act(conversation, "claim")
    await anna.act(conversation, "block", {"hours": 2})
    await chat.poll()
    await anna.act(conversation, "close", {})
    assert await chat.poll() == []
