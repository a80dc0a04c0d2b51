"""The web chat's typing indicator through the real app, on SQLite and PostgreSQL: the person's signal
reaches the console's stream, the staff member's reaches the person's long poll and goes again; throttled,
validated, never stored as a message, never naming the staff member."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import func, select

from bots.channels.webchat import chat as webchat_module
from intake import typing_signals
from intake.storage.models import MessageRow, OutboxRow
from tests.channels.webchat_tab import Chat
from tests.console.conftest import Console
from tests.console.staff_client import WAIT_SECONDS, Event, EventStream
from tests.integration.conftest import fetch


@pytest.fixture(autouse=True)
def short_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(webchat_module, "POLL_SECONDS", 0.5)


async def signal(chat: Chat, body: Any = None, token: str | None = None) -> tuple[int, dict[str, Any]]:
    response = await chat.client.post(
        "/chat/api/typing",
        json={"typing": True} if body is None else body,
        headers={"X-Chat-Token": chat.token if token is None else token},
    )
    return response.status, await response.json()


async def poll_typing(chat: Chat, shown: bool) -> dict[str, Any]:
    response = await chat.client.get(
        f"/chat/api/poll?after={chat.after}&typing={int(shown)}", headers=chat.headers
    )
    assert response.status == 200, await response.text()
    data: dict[str, Any] = await response.json()
    if data["messages"]:
        chat.after = data["messages"][-1]["id"]
    return data


async def next_typing(stream: EventStream) -> Event:
    while True:
        event = await stream.next()
        if event.name == "typing":
            return event


async def counts(console: Console) -> tuple[int, int]:
    (messages,) = await fetch(console.wiring.db, select(func.count()).select_from(MessageRow))
    (outbox,) = await fetch(console.wiring.db, select(func.count()).select_from(OutboxRow))
    return int(messages), int(outbox)


async def test_the_person_typing_shows_on_the_console_stream(console: Console) -> None:
    chat, conversation = await console.queued("Hei, jeg trenger hjelp")
    anna = await console.signed_in("anna")
    stream = await anna.stream()
    before = await counts(console)

    assert await signal(chat) == (202, {"ok": True, "sent": True})
    assert await next_typing(stream) == Event("typing", {"conversation": conversation, "typing": True})
    # Again at once: held back (one signal every 3 s); a "stopped" always goes.
    assert await signal(chat) == (202, {"ok": True, "sent": False})
    assert await signal(chat, {"typing": False}) == (202, {"ok": True, "sent": True})
    assert await next_typing(stream) == Event("typing", {"conversation": conversation, "typing": False})
    # Not a message, not a reply.
    assert await counts(console) == before
    stream.close()


async def test_nothing_is_signalled_while_the_bot_still_asks(console: Console) -> None:
    chat = await console.person()
    await chat.send("Hei")
    assert await signal(chat) == (202, {"ok": True, "sent": False})


async def test_bad_typing_calls_are_clear_errors(console: Console) -> None:
    chat = await console.person()
    status, body = await signal(chat, token="not-a-token")
    assert (status, body["error"]) == (401, "unknown chat session")
    assert (await signal(chat, {"typing": "yes"}))[0] == 400
    response = await chat.client.post("/chat/api/typing", data=b"[1, 2", headers=chat.headers)
    assert response.status == 400


async def test_typing_signals_are_rate_limited(console: Console, monkeypatch: pytest.MonkeyPatch) -> None:
    chat, _ = await console.queued("Hei")
    monkeypatch.setattr(typing_signals, "EVERY_SECONDS", 0.0)
    statuses = [(await signal(chat))[0] for _ in range(webchat_module.TYPING_PER_MINUTE + 1)]
    assert statuses[:-1] == [202] * webchat_module.TYPING_PER_MINUTE
    assert statuses[-1] == 429


async def test_the_staff_member_typing_shows_in_the_persons_chat_without_a_name(console: Console) -> None:
    chat, conversation = await console.queued("Hei, jeg trenger hjelp")
    await chat.poll()
    anna = await console.signed_in("anna")
    # Only in a conversation one holds.
    response = await anna.post(f"conversations/{conversation}/typing", {"typing": True})
    assert response.status == 409
    await anna.act(conversation, "claim")
    await chat.poll()
    before = await counts(console)

    assert await anna.act(conversation, "typing", {"typing": True}) == {"ok": True, "sent": True}
    data = await poll_typing(chat, shown=False)
    assert data == {"messages": [], "typing": True}
    assert "anna" not in str(data)
    # While it shows, the poll waits; a "stopped" ends it at once.
    waiting = asyncio.create_task(poll_typing(chat, shown=True))
    await asyncio.sleep(0.1)
    assert await anna.act(conversation, "typing", {"typing": False}) == {"ok": True, "sent": True}
    async with asyncio.timeout(WAIT_SECONDS):
        assert await waiting == {"messages": [], "typing": False}
    assert await counts(console) == before

    # The reply itself ends "Writing…" too.
    await anna.act(conversation, "typing", {"typing": True})
    await anna.act(conversation, "messages", {"text": "Hei, jeg er her."})
    data = await poll_typing(chat, shown=True)
    assert [m["text"] for m in data["messages"]] == ["Hei, jeg er her."]
    assert data["typing"] is False


async def test_writing_goes_by_itself_when_the_staff_member_stops(
    console: Console, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(typing_signals, "SHOWN_SECONDS", 0.3)
    chat, conversation = await console.queued("Hei")
    await chat.poll()
    anna = await console.signed_in("anna")
    await anna.act(conversation, "claim")
    await chat.poll()
    await anna.act(conversation, "typing", {"typing": True})
    assert (await poll_typing(chat, shown=False))["typing"] is True
    async with asyncio.timeout(WAIT_SECONDS):
        assert (await poll_typing(chat, shown=True))["typing"] is False


async def test_staff_typing_is_refused_where_it_cannot_show(console: Console) -> None:
    _, conversation = await console.queued("Hei")
    anna = await console.signed_in("anna")
    bjorn = await console.signed_in("bjorn")
    await anna.act(conversation, "claim")
    assert (await bjorn.post(f"conversations/{conversation}/typing", {"typing": True})).status == 409
    assert (await anna.post(f"conversations/{conversation}/typing", {"typing": "yes"})).status == 400
    missing = "00000000-0000-4000-8000-000000000000"
    assert (await anna.post(f"conversations/{missing}/typing", {"typing": True})).status == 404
    assert (await anna.post(f"conversations/{conversation}/typing", {"typing": True}, csrf="")).status == 403
