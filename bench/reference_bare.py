"""Reference (a), the practical limit: a bare aiohttp webhook that stores each update and sends one reply.

`POST /webhook` checks the secret header, inserts the raw update into one table (SQLAlchemy async, on
SQLite in WAL mode like the service, or PostgreSQL), sends one `sendMessage` to the Bot API, and answers
200. Nothing else: no conversation, no outbox, no ORM objects. Run as `python -m bench.reference_bare`.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from aiohttp import web
from sqlalchemy import BigInteger, Column, Integer, MetaData, Table, Text, event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bench.reference_cli import SECRET_HEADER, reference_app, run_reference, send_reply

metadata = MetaData()
updates = Table(
    "bench_updates",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("update_id", BigInteger, nullable=False),
    Column("chat_id", BigInteger, nullable=False),
    Column("payload", Text, nullable=False),
)

ENGINE = web.AppKey("engine", AsyncEngine)
HTTP = web.AppKey("http", aiohttp.ClientSession)


def make_engine(url: str) -> AsyncEngine:
    if url.startswith("sqlite"):
        # One connection: SQLite has one writer at a time, and writers on several connections wait for
        # each other in SQLite's busy handler, which sleeps (up to 100 ms a time). Queueing for the one
        # connection in the pool instead is the practical limit.
        engine = create_async_engine(url, pool_size=1, max_overflow=0)

        @event.listens_for(engine.sync_engine, "connect")
        def on_connect(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=10000")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    return create_async_engine(url, pool_size=10, max_overflow=20)


def make_app(db_url: str, api_url: str, token: str, secret: str) -> web.Application:
    send_url = f"{api_url}{token}/sendMessage"

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        engine = make_engine(db_url)
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        app[ENGINE] = engine
        app[HTTP] = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100))
        yield
        await app[HTTP].close()
        await engine.dispose()

    async def webhook(request: web.Request) -> web.Response:
        if request.headers.get(SECRET_HEADER) != secret:
            raise web.HTTPForbidden()
        raw = await request.read()
        update = json.loads(raw)
        chat_id = int(update["message"]["chat"]["id"])
        async with request.app[ENGINE].begin() as conn:
            await conn.execute(
                updates.insert().values(
                    update_id=int(update["update_id"]), chat_id=chat_id, payload=raw.decode("utf-8")
                )
            )
        if not await send_reply(request.app[HTTP], send_url, chat_id):
            raise web.HTTPBadGateway()
        return web.Response(text="ok")

    return reference_app(lifecycle, webhook)


if __name__ == "__main__":
    run_reference(make_app, __doc__.splitlines()[0])
