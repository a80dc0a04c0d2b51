"""The direct bare reference (bench/reference_direct.py) keeps the guarantees it is measured against: the
update is committed before the webhook answers 200, a redelivery is stored and answered once, and one reply
goes to the Bot API; on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bench.driver import telegram_update
from bench.fake_bot_api import make_app as make_fake_bot_api
from bench.reference_cli import SECRET_HEADER
from bench.reference_direct import make_app

TOKEN = "123456:TEST"
SECRET = "s3cret"
ClientFactory = Callable[[web.Application], Awaitable[TestClient[Any, Any]]]
ServerFactory = Callable[[web.Application], Awaitable[TestServer]]


async def stored(database_url: str) -> list[tuple[int, int]]:
    """(update_id, chat_id) of every stored update, read on a connection of its own (so: committed)."""
    scheme, _, rest = database_url.partition("://")
    query = "SELECT update_id, chat_id FROM bench_direct_updates ORDER BY update_id"
    if scheme.startswith("sqlite"):
        with sqlite3.connect(rest.removeprefix("/")) as conn:
            return [(int(a), int(b)) for a, b in conn.execute(query)]
    conn = await asyncpg.connect(f"postgresql://{rest}")
    try:
        return [(int(r[0]), int(r[1])) for r in await conn.fetch(query)]
    finally:
        await conn.close()


async def test_answers_stores_once_and_sends(
    database_url: str, aiohttp_client: ClientFactory, aiohttp_server: ServerFactory
) -> None:
    api = await aiohttp_server(make_fake_bot_api())
    client = await aiohttp_client(make_app(database_url, str(api.make_url("/bot")), TOKEN, SECRET))
    body = json.dumps(telegram_update(1001, 42, 1, "hello")).encode()
    headers = {SECRET_HEADER: SECRET, "Content-Type": "application/json"}

    first = await client.post("/webhook", data=body, headers=headers)
    assert first.status == 200
    assert await stored(database_url) == [(1001, 42)]  # committed before the answer
    again = await client.post("/webhook", data=body, headers=headers)  # Telegram's redelivery
    assert again.status == 200
    assert await stored(database_url) == [(1001, 42)]

    async with client.session.get(api.make_url("/_stats"), params={"chat": "42"}) as response:
        stats = await response.json()
    assert stats["chat"] == 1  # one reply, not one per delivery
    forged = await client.post("/webhook", data=body, headers={SECRET_HEADER: "wrong"})
    assert forged.status == 403


async def test_a_failed_send_is_not_stored(database_url: str, aiohttp_client: ClientFactory) -> None:
    """The reply could not be sent: the webhook answers 502 and keeps nothing, so the redelivery is
    processed (and replied to) rather than taken for a duplicate."""
    client = await aiohttp_client(make_app(database_url, "http://127.0.0.1:9/bot", TOKEN, SECRET))
    body = json.dumps(telegram_update(7, 43, 1, "hello")).encode()
    response = await client.post("/webhook", data=body, headers={SECRET_HEADER: SECRET})
    assert response.status == 502
    assert await stored(database_url) == []
