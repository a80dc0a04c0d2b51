"""A flood (many conversations from one client address) cannot push a real person out of staff's sight:
its conversations are marked, counted and listed after everyone else's, and staff clear it in one
audited action. Behind our proxy (127.0.0.1 here), each X-Forwarded-For address is a client."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import select

from intake.storage.models import AuditRow, ConversationRow, MessageRow
from tests.channels.webchat_tab import Chat
from tests.console.conftest import Console, MakeConsole
from tests.console.test_webchat_limits import proxied, via
from tests.integration.conftest import fetch

TROLL, PERSON = "203.0.113.66", "198.51.100.7"
URGENT = "They will kill me if I go home"


async def flood(console: Console, size: int) -> list[str]:
    """`size` chats from one address, each opening with danger words: each is urgent and queued at once."""
    chats = await asyncio.gather(
        *(Chat(console.client, lang="en", via=via(TROLL)).start() for _ in range(size))
    )
    await asyncio.gather(*(chat.send(URGENT) for chat in chats))
    return [(await console.conversation_of(chat)).id for chat in chats]


async def test_thirty_urgent_conversations_from_one_address_do_not_bury_a_real_one(
    make_console: MakeConsole, tmp_path: Path
) -> None:
    # Room for the whole flood to get in: this is about the queue, not the door.
    console = await proxied(make_console, tmp_path, sessions_per_minute=100, address_messages_per_minute=100)
    flooded = await flood(console, 30)
    person = await Chat(console.client, lang="en", via=via(PERSON)).start()
    await person.send(URGENT)
    real = (await console.conversation_of(person)).id

    anna = await console.signed_in("anna")
    queue = await anna.queue()
    # The real urgent person is first; the flood follows, every item marked with its source.
    assert queue["queue"][0]["id"] == real
    assert queue["queue"][0]["flood_source"] is None
    sources = {item["flood_source"] for item in queue["queue"][1:]}
    assert len(sources) == 1
    assert None not in sources
    assert {item["id"] for item in queue["queue"][1:]} == set(flooded)
    source = sources.pop()
    assert queue["floods"] == [{"source": source, "count": 30}]


async def test_staff_clear_a_flood_in_one_audited_action(make_console: MakeConsole, tmp_path: Path) -> None:
    console = await proxied(make_console, tmp_path, sessions_per_minute=100, address_messages_per_minute=100)
    flooded = await flood(console, 12)
    person = await Chat(console.client, lang="en", via=via(PERSON)).start()
    await person.send(URGENT)
    real = (await console.conversation_of(person)).id
    anna, bjorn = await console.signed_in("anna"), await console.signed_in("bjorn")
    # One of the flood is with a staff member: clearing leaves what someone holds alone.
    await bjorn.act(flooded[0], "claim")
    source = (await anna.queue())["floods"][0]["source"]

    # Like every action, it needs the CSRF token.
    assert (await anna.post(f"floods/{source}/clear", csrf="")).status == 403
    answer = await anna.post(f"floods/{source}/clear")
    assert answer.status == 200
    assert await answer.json() == {"ok": True, "cleared": 11}

    queue = await anna.queue()
    assert [item["id"] for item in queue["queue"]] == [real]
    assert queue["floods"] == []
    rows = {row.id: row for row in await fetch(console.wiring.db, select(ConversationRow))}
    assert {rows[cid].status for cid in flooded[1:]} == {"closed"}
    assert rows[flooded[0]].status == "claimed"
    # Their messages stay for staff to read until the retention period, like any closed conversation.
    kept = await fetch(console.wiring.db, select(MessageRow).where(MessageRow.conversation_id == flooded[1]))
    assert any(m.text == URGENT for m in kept)
    audit = await fetch(console.wiring.db, select(AuditRow).where(AuditRow.action == "clear_flood"))
    assert sorted(row.conversation_id for row in audit) == sorted(flooded[1:])
    assert {row.staff_name for row in audit} == {"anna"}


async def test_a_few_conversations_from_one_address_are_no_flood(
    make_console: MakeConsole, tmp_path: Path
) -> None:
    """A family or a school sharing one address: up to the threshold, nothing is marked."""
    console = await proxied(make_console, tmp_path, flood_conversations=5)
    await flood(console, 4)
    anna = await console.signed_in("anna")
    queue = await anna.queue()
    assert queue["floods"] == []
    assert {item["flood_source"] for item in queue["queue"]} == {None}


async def test_clearing_an_unknown_source_is_404_or_nothing(console: Console) -> None:
    anna = await console.signed_in("anna")
    assert (await anna.post("floods/not-a-source/clear")).status == 404
    answer = await anna.post("floods/0123456789abcdef/clear")
    assert await answer.json() == {"ok": True, "cleared": 0}
