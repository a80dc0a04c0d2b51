"""Every refusal of the console's JSON API: no session, no CSRF token, someone else's or a closed
conversation, bad input and oversized bodies. A refused request changes nothing."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import ClientResponse
from sqlalchemy import select

from intake import content as c
from intake.storage.models import ContactRow, ConversationRow, MessageRow, OutboxRow, StatRecordRow
from tests.console.conftest import Console
from tests.console.staff_client import JSON_TYPE, Staff
from tests.integration.conftest import fetch

# A body each action accepts: a refusal then comes from what the test changes, never from the body.
GOOD_BODIES: dict[str, dict[str, Any]] = {
    "claim": {},
    "release": {},
    "messages": {"text": "hello"},
    "notes": {"text": "a note"},
    "transfer": {"to": "cecilie"},
    "close": {"role": "self"},
    "block": {"hours": 1},
    "flag": {"hostile": True},
}
# Actions only the member holding the conversation may take.
HOLDER_ONLY = ("messages", "release", "transfer", "close")
API_GETS = ("queue", "staff", "audit", "stream", "conversations/{id}")


async def snapshot(console: Console) -> list[Any]:
    """Everything an action could change, to compare before and after a refusal."""
    db = console.wiring.db
    conversations = await fetch(db, select(ConversationRow).order_by(ConversationRow.id))
    contacts = await fetch(db, select(ContactRow).order_by(ContactRow.id))
    return [
        [(x.id, x.status, x.claimed_by, x.stat_key, x.closed_at) for x in conversations],
        [(x.id, x.hostile, x.blocked_until) for x in contacts],
        [(x.id, x.direction, x.text) for x in await fetch(db, select(MessageRow).order_by(MessageRow.id))],
        [x.id for x in await fetch(db, select(OutboxRow).order_by(OutboxRow.id))],
        [(x.key, x.role, x.closed_by_staff) for x in await fetch(db, select(StatRecordRow))],
    ]


async def refused(response: ClientResponse, status: int) -> str:
    assert response.status == status, await response.text()
    data = await response.json()
    assert set(data) == {"error"}
    error: str = data["error"]
    return error


@pytest.fixture
async def held(console: Console) -> tuple[Staff, Staff, str]:
    """anna holds a waiting person's conversation; bjorn is signed in too, cecilie exists."""
    _, conversation = await console.queued()
    anna, bjorn = await console.signed_in("anna"), await console.signed_in("bjorn")
    await console.staff("cecilie")
    await anna.act(conversation, "claim")
    return anna, bjorn, conversation


# ---- Not signed in ----


@pytest.mark.parametrize("cookie", [None, "not-a-session", "x" * 500], ids=["none", "unknown", "too-long"])
async def test_every_api_route_without_a_session_is_401(console: Console, cookie: str | None) -> None:
    _, conversation = await console.queued()
    before = await snapshot(console)
    headers = {} if cookie is None else {"Cookie": f"helpline_staff={cookie}"}
    for path in API_GETS:
        response = await console.client.get(f"/staff/api/{path.format(id=conversation)}", headers=headers)
        assert await refused(response, 401) == "sign in first", path
    for action in GOOD_BODIES:
        # An empty body too: who is asking is checked before what is asked.
        for body in (json.dumps(GOOD_BODIES[action]), ""):
            response = await console.client.post(
                f"/staff/api/conversations/{conversation}/{action}",
                data=body,
                headers=headers | JSON_TYPE | {"X-CSRF-Token": "anything"},
            )
            assert await refused(response, 401) == "sign in first", (action, body)
    assert await snapshot(console) == before


async def test_a_signed_out_session_is_401(console: Console) -> None:
    anna = await console.signed_in("anna")
    await anna.sign_out()
    assert await refused(await anna.get("queue"), 401) == "sign in first"
    assert await refused(await anna.post("conversations/x/claim"), 401) == "sign in first"


# ---- CSRF ----


@pytest.mark.parametrize("action", list(GOOD_BODIES))
async def test_a_post_without_the_right_csrf_token_is_403_and_changes_nothing(
    console: Console, held: tuple[Staff, Staff, str], action: str
) -> None:
    anna, bjorn, conversation = held
    if action == "claim":
        _, conversation = await console.queued()
    before = await snapshot(console)
    # None at all, a made-up one, and a real one of another member's session.
    for token in ("", "wrong-token", bjorn.csrf):
        response = await anna.post(f"conversations/{conversation}/{action}", GOOD_BODIES[action], csrf=token)
        assert await refused(response, 403) == "missing or wrong CSRF token", token
    # Also when the body is malformed: the token is checked before the body is read.
    await refused(await anna.post_raw(f"conversations/{conversation}/{action}", b"{", csrf=""), 403)
    assert await snapshot(console) == before
    # The same request with the token goes through: the refusal was the token's.
    assert (await anna.post(f"conversations/{conversation}/{action}", GOOD_BODIES[action])).status == 200


# ---- Whose conversation ----


async def test_a_second_member_cannot_claim_a_held_conversation(
    console: Console, held: tuple[Staff, Staff, str]
) -> None:
    anna, bjorn, conversation = held
    before = await snapshot(console)
    error = await refused(await bjorn.post(f"conversations/{conversation}/claim"), 409)
    assert "someone else" in error
    await refused(await anna.post(f"conversations/{conversation}/claim"), 409)
    assert await snapshot(console) == before
    (mine,) = (await anna.queue())["mine"]
    assert mine["id"] == conversation


async def test_two_members_claiming_at_once_one_gets_it(console: Console) -> None:
    chat, conversation = await console.queued()
    await chat.poll()
    members = [await console.signed_in(name) for name in ("anna", "bjorn", "cecilie")]
    answers = await asyncio.gather(*(m.post(f"conversations/{conversation}/claim") for m in members))
    assert sorted(r.status for r in answers) == [200, 409, 409]
    (winner,) = [m.name for m, r in zip(members, answers, strict=True) if r.status == 200]
    assert (await console.conversation_of(chat)).claimed_by == winner
    # The person hears once that someone is there.
    assert [m["text"] for m in await chat.poll()] == [c.STAFF_JOINED]


@pytest.mark.parametrize("holder", ["nobody", "bjorn"])
async def test_acting_on_a_conversation_you_do_not_hold_is_403(console: Console, holder: str) -> None:
    _, conversation = await console.queued()
    anna, bjorn = await console.signed_in("anna"), await console.signed_in("bjorn")
    await console.staff("cecilie")
    if holder == "bjorn":
        await bjorn.act(conversation, "claim")
    before = await snapshot(console)
    for action in HOLDER_ONLY:
        response = await anna.post(f"conversations/{conversation}/{action}", GOOD_BODIES[action])
        assert await refused(response, 403) == "claim the conversation first", action
    assert await snapshot(console) == before


async def test_acting_on_a_closed_conversation_is_refused(
    console: Console, held: tuple[Staff, Staff, str]
) -> None:
    anna, bjorn, conversation = held
    await anna.act(conversation, "close", {})
    before = await snapshot(console)
    for member in (anna, bjorn):
        error = await refused(await member.post(f"conversations/{conversation}/claim"), 409)
        assert "closed" in error
        for action in HOLDER_ONLY:
            response = await member.post(f"conversations/{conversation}/{action}", GOOD_BODIES[action])
            await refused(response, 403)
        # The console offers no notes on a closed conversation; the API must not take one either.
        await refused(await member.post(f"conversations/{conversation}/notes", GOOD_BODIES["notes"]), 409)
    assert await snapshot(console) == before


@pytest.mark.parametrize("action", list(GOOD_BODIES))
async def test_an_unknown_conversation_is_404(console: Console, action: str) -> None:
    anna = await console.signed_in("anna")
    await console.staff("cecilie")
    await refused(await anna.get("conversations/no-such-conversation"), 404)
    await refused(await anna.post(f"conversations/no-such-conversation/{action}", GOOD_BODIES[action]), 404)


async def test_a_conversation_the_person_erased_is_gone_for_staff(console: Console) -> None:
    chat, conversation = await console.queued("Please call me")
    anna = await console.signed_in("anna")
    await anna.act(conversation, "claim")
    await chat.send("DELETE")
    await refused(await anna.get(f"conversations/{conversation}"), 404)
    await refused(await anna.post(f"conversations/{conversation}/messages", {"text": "hello?"}), 404)
    assert (await anna.queue())["mine"] == []


# ---- Bad input ----

BAD_BODIES: dict[str, list[Any]] = {
    "messages": [{}, {"text": None}, {"text": 5}, {"text": ["hi"]}, {"text": ""}, {"text": " \n "},
                 {"text": "x" * 4001}],
    "notes": [{}, {"text": 5}, {"text": ""}, {"text": "   "}, {"text": "x" * 4001}],
    "transfer": [{}, {"to": None}, {"to": 3}, {"to": "nobody"}, {"to": "anna"}, {"to": "dina"}, {"to": ""}],
    "close": [{"role": "king"}, {"role": 1}, {"topics": "fgm"}, {"topics": ["fgm", 2]}, {"topics": ["war"]},
              {"age_group": "old"}, {"gender": "x"}, {"kind": "gossip"}, {"country": "x" * 33},
              {"follow_up": "yes"}, {"follow_up": 1}],
    "block": [{}, {"hours": None}, {"hours": "2"}, {"hours": 1.5}, {"hours": True}, {"hours": 0},
              {"hours": -1}, {"hours": 24 * 365 + 1}],
    "flag": [{}, {"hostile": None}, {"hostile": "true"}, {"hostile": 1}],
}  # fmt: skip
RAW_BODIES = [b"not json", b"[1, 2]", b'"text"', b"null", b"\xff\xfe{}"]


@pytest.mark.parametrize("action", list(BAD_BODIES))
async def test_bad_input_is_400_and_changes_nothing(
    console: Console, held: tuple[Staff, Staff, str], action: str
) -> None:
    anna, _, conversation = held
    await console.staff("dina")
    await console.wiring.accounts.set_disabled("dina")
    before = await snapshot(console)
    for body in BAD_BODIES[action]:
        await refused(await anna.post(f"conversations/{conversation}/{action}", body), 400)
    for raw in RAW_BODIES:
        await refused(await anna.post_raw(f"conversations/{conversation}/{action}", raw), 400)
    assert await snapshot(console) == before


async def test_a_reply_longer_than_the_channel_carries_is_refused_at_the_limit(
    console: Console, held: tuple[Staff, Staff, str]
) -> None:
    anna, _, conversation = held
    await refused(await anna.post(f"conversations/{conversation}/messages", {"text": "x" * 4001}), 400)
    assert (await anna.post(f"conversations/{conversation}/messages", {"text": "x" * 4000})).status == 200


# ---- Oversized bodies ----


async def test_a_body_over_64_kib_is_413(console: Console, held: tuple[Staff, Staff, str]) -> None:
    anna, _, conversation = held
    before = await snapshot(console)
    body = {"text": "hello", "padding": "x" * 70_000}
    response = await anna.post(f"conversations/{conversation}/messages", body)
    await refused(response, 413)
    assert await snapshot(console) == before


async def chunked(body: bytes, size: int) -> AsyncIterator[bytes]:
    """A body sent with chunked transfer encoding, so no Content-Length warns of its size."""
    for start in range(0, len(body), size):
        yield body[start : start + size]
        await asyncio.sleep(0)


async def test_a_chunked_body_over_64_kib_is_413(console: Console, held: tuple[Staff, Staff, str]) -> None:
    anna, _, conversation = held
    before = await snapshot(console)
    body = json.dumps({"text": "hello", "padding": "x" * 200_000}).encode()
    await refused(await anna.post_raw(f"conversations/{conversation}/messages", chunked(body, 4096)), 413)
    assert await snapshot(console) == before


async def test_a_chunked_body_under_the_limit_is_read_whole(
    console: Console, held: tuple[Staff, Staff, str]
) -> None:
    anna, _, conversation = held
    text = "A long and careful answer. " * 140
    body = json.dumps({"text": text.strip(), "padding": "x" * 30_000}).encode()
    response = await anna.post_raw(f"conversations/{conversation}/messages", chunked(body, 1024))
    assert response.status == 200, await response.text()
    last = (await anna.conversation(conversation))["messages"][-1]
    assert last["text"] == text.strip()
