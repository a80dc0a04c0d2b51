"""The headline reference, the real limit: the bare reference's job written directly on the database drivers.

`POST /webhook` checks the secret header, stores the raw update once (its `update_id` is the primary key:
a redelivery inserts nothing and sends nothing, so it is processed once), commits, sends one `sendMessage`
to the Bot API through aiohttp, and only then answers 200. The guarantees the service gives for the update
hold here too: it is committed before the webhook answers 2xx, and a redelivery is processed once. If the
send fails the stored row is taken back and the webhook answers 502, so Telegram's redelivery sends it
again. What it does not have is the service's outbox: a crash between the commit and the send loses that
one reply (the service's would be sent after restart); the service pays for that, and for everything else
it does (see bench/README.md).

The database is reached without SQLAlchemy, the cost issue 19 is about:
- SQLite: the standard `sqlite3` module, one connection in the event loop's thread, WAL,
  `synchronous=NORMAL`. A write takes tens of microseconds and nothing else can run between the insert and
  its commit, so the loop is blocked only that long and no lock is held across an `await`.
- PostgreSQL: asyncpg, a pool; each insert is one statement in its own implicit transaction.

Run as `python -m bench.reference_direct --db-url URL ...` (a SQLAlchemy-style URL, as the bench passes).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator
from typing import Protocol

import aiohttp
import asyncpg
from aiohttp import web

from bench.reference_cli import SECRET_HEADER, reference_app, run_reference, send_reply

SQLITE_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS bench_direct_updates ("
    "update_id INTEGER PRIMARY KEY, chat_id INTEGER NOT NULL, payload TEXT NOT NULL)"
)
POSTGRES_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS bench_direct_updates ("
    "update_id BIGINT PRIMARY KEY, chat_id BIGINT NOT NULL, payload TEXT NOT NULL)"
)
INSERT_SQLITE = (
    "INSERT INTO bench_direct_updates (update_id, chat_id, payload) VALUES (?, ?, ?) "
    "ON CONFLICT (update_id) DO NOTHING"
)
INSERT_POSTGRES = (
    "INSERT INTO bench_direct_updates (update_id, chat_id, payload) VALUES ($1, $2, $3) "
    "ON CONFLICT (update_id) DO NOTHING"
)


class Store(Protocol):
    async def add(self, update_id: int, chat_id: int, payload: str) -> bool:
        """Stores and commits the update; False if it was already stored (a redelivery)."""

    async def forget(self, update_id: int) -> None:
        """Takes a stored update back (its reply could not be sent: the redelivery must process it)."""

    async def close(self) -> None: ...


class SqliteStore:
    def __init__(self, path: str) -> None:
        # isolation_level=None: no implicit transactions; each statement commits on its own, which for
        # one INSERT is exactly BEGIN; INSERT; COMMIT without two more round trips through the module.
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute("PRAGMA busy_timeout=10000")
        self.conn.execute(SQLITE_SCHEMA)

    async def add(self, update_id: int, chat_id: int, payload: str) -> bool:
        return self.conn.execute(INSERT_SQLITE, (update_id, chat_id, payload)).rowcount == 1

    async def forget(self, update_id: int) -> None:
        self.conn.execute("DELETE FROM bench_direct_updates WHERE update_id = ?", (update_id,))

    async def close(self) -> None:
        self.conn.close()


class PostgresStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    @classmethod
    async def open(cls, dsn: str) -> PostgresStore:
        pool = await asyncpg.create_pool(dsn, min_size=10, max_size=30)  # as many as the bare reference
        await pool.execute(POSTGRES_SCHEMA)
        return cls(pool)

    async def add(self, update_id: int, chat_id: int, payload: str) -> bool:
        status: str = await self.pool.execute(INSERT_POSTGRES, update_id, chat_id, payload)
        return status == "INSERT 0 1"

    async def forget(self, update_id: int) -> None:
        await self.pool.execute("DELETE FROM bench_direct_updates WHERE update_id = $1", update_id)

    async def close(self) -> None:
        await self.pool.close()


async def open_store(db_url: str) -> Store:
    """A store for a SQLAlchemy-style URL (`sqlite+aiosqlite:///path`, `postgresql+asyncpg://...`)."""
    scheme, _, rest = db_url.partition("://")
    if scheme.startswith("sqlite"):
        return SqliteStore(rest.removeprefix("/"))
    if scheme.startswith("postgresql"):
        return await PostgresStore.open(f"postgresql://{rest}")
    raise ValueError(f"unsupported database URL scheme: {scheme}")


STORE = web.AppKey("store", Store)
HTTP = web.AppKey("http", aiohttp.ClientSession)


def make_app(db_url: str, api_url: str, token: str, secret: str) -> web.Application:
    send_url = f"{api_url}{token}/sendMessage"

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        app[STORE] = await open_store(db_url)
        app[HTTP] = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100))
        yield
        await app[HTTP].close()
        await app[STORE].close()

    async def webhook(request: web.Request) -> web.Response:
        if request.headers.get(SECRET_HEADER) != secret:
            raise web.HTTPForbidden()
        raw = await request.read()
        try:
            update = json.loads(raw)
            update_id = int(update["update_id"])
            chat_id = int(update["message"]["chat"]["id"])
        except (ValueError, KeyError, TypeError):  # json.JSONDecodeError is a ValueError
            return web.Response(text="ignored")  # not a text message: nothing to store, no redelivery
        store = request.app[STORE]
        if not await store.add(update_id, chat_id, raw.decode("utf-8")):
            return web.Response(text="ok")  # a redelivery: stored and answered before
        if not await send_reply(request.app[HTTP], send_url, chat_id):
            await store.forget(update_id)
            raise web.HTTPBadGateway()
        return web.Response(text="ok")

    return reference_app(lifecycle, webhook)


if __name__ == "__main__":
    run_reference(make_app, __doc__.splitlines()[0])
