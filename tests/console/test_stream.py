"""The console's live stream (server-sent events) in one service process, on SQLite and on PostgreSQL
(where even one process hears its changes back through LISTEN/NOTIFY)."""

from __future__ import annotations

from typing import Any

import pytest

from bots.console import routes
from tests.console.conftest import Console
from tests.console.staff_client import END, Event

# Each action and the body it is sent with, in an order one member can take them all.
ACTIONS: list[tuple[str, dict[str, Any]]] = [
    ("claim", {}),
    ("messages", {"text": "Hello, I am Anna."}),
    ("notes", {"text": "Sounds frightened."}),
    ("flag", {"hostile": True}),
    ("block", {"hours": 1}),
    ("transfer", {"to": "bjorn"}),
]


async def test_the_stream_needs_a_session(console: Console) -> None:
    response = await console.client.get("/staff/api/stream")
    assert response.status == 401
    assert await response.json() == {"error": "sign in first"}


async def test_each_message_from_a_person_nudges_the_stream(console: Console) -> None:
    anna = await console.signed_in("anna")
    stream = await anna.stream()
    chat = await console.person()
    await chat.send("Is anyone there?")
    conversation = (await console.conversation_of(chat)).id
    event = await stream.next()
    # Only which conversation changed: the console fetches the rest, so no text travels here.
    assert event == Event("change", {"type": "change", "conversation": conversation})
    await chat.send("skip")
    assert await stream.change() == conversation


async def test_every_staff_action_nudges_every_open_console(console: Console) -> None:
    _, conversation = await console.queued()
    anna, bjorn = await console.signed_in("anna"), await console.signed_in("bjorn")
    streams = [await anna.stream(), await bjorn.stream()]
    for action, body in ACTIONS:
        await anna.act(conversation, action, body)
        for stream in streams:
            assert await stream.change() == conversation, action
    await bjorn.act(conversation, "release")
    await anna.act(conversation, "claim")
    await anna.act(conversation, "close", {})
    for stream in streams:
        assert [await stream.change() for _ in range(3)] == [conversation] * 3


async def test_a_person_erasing_their_chat_nudges_without_naming_it(console: Console) -> None:
    chat, _ = await console.queued()
    anna = await console.signed_in("anna")
    stream = await anna.stream()
    await chat.send("DELETE")
    assert await stream.change() is None


@pytest.mark.parametrize("how", ["sign-out", "disabled", "idle"])
async def test_the_stream_ends_when_the_session_does(
    console: Console, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    # The stream re-checks the session at each heartbeat; beat often so the test need not wait 15 s.
    monkeypatch.setattr(routes, "HEARTBEAT_SECONDS", 0.05)
    anna = await console.signed_in("anna")
    stream = await anna.stream()
    if how == "sign-out":
        await anna.sign_out()
    elif how == "disabled":
        await console.wiring.accounts.set_disabled("anna")
    else:
        console.clock.advance(minutes=31)
    assert await stream.next() == Event("signed_out", {})
    assert await stream.next() == END


async def test_open_streams_end_when_the_service_stops(console: Console) -> None:
    anna = await console.signed_in("anna")
    stream = await anna.stream()
    await console.client.server.close()
    assert await stream.next() == END
