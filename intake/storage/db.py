"""Engines for SQLite (the embedded default) and PostgreSQL, and running the migrations."""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from importlib import resources
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.ext.asyncio import AsyncSession as AsyncSession

from intake.storage.leader import Leadership
from intake.storage.pg_writer import PgWriter
from intake.storage.sealed import Cipher, cipher_for, use_cipher
from intake.storage.uow import Database, WriteTurns
from intake.storage.urls import listen_dsn
from intake.storage.writer import SqliteWriter

log = logging.getLogger(__name__)

DEFAULT_URL = "sqlite+aiosqlite:///./helpline.db"
# PostgreSQL connections per copy (see make_engine): SQLAlchemy's pool and the writer's lanes.
SQLALCHEMY_CONNECTIONS = 20
PG_WRITER_LANES = 4
SQLITE_BUSY_TIMEOUT_MS = 10_000
# Any fixed number, the same in every copy: the PostgreSQL advisory lock held while migrating.
MIGRATION_LOCK = 0x68656C70
# An execution option: this connection only reads (see `Database.reader`).
READ_ONLY = "helpline_read_only"


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    if is_sqlite(url):
        engine = create_async_engine(url, **kwargs)
        _configure_sqlite(engine)
        return engine
    # All kept open: with 10 kept and more opened and closed on demand, a busy minute opened a hundred
    # connections, each paying a connect, a login and asyncpg preparing every statement again.
    # The connection budget of one copy: these 20 (the console, the web chat's reads, the outbox's retries
    # and the scheduled jobs: the inbound messages and the outbox's claims and sends go through the
    # writer), the writer's PG_WRITER_CONNECTIONS (pg_writer.py) and the live bus's one LISTEN: 26, so
    # three copies stay within PostgreSQL's default max_connections of 100 (see the README).
    kwargs.setdefault("pool_size", SQLALCHEMY_CONNECTIONS)
    kwargs.setdefault("max_overflow", 0)
    kwargs.setdefault("pool_pre_ping", True)
    return create_async_engine(url, **kwargs)


def _configure_sqlite(engine: AsyncEngine) -> None:
    # WAL lets readers (the web chat's polls) run while one writer commits; the busy timeout makes
    # writers wait for each other instead of failing. Python's sqlite3 opens transactions lazily, so
    # we take the write lock up front with BEGIN IMMEDIATE: no deadlock between two upgrading readers.
    @event.listens_for(engine.sync_engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        # Deleted rows are overwritten with zeros, not left in free pages: erased text must not be
        # recoverable from the file (the WAL is emptied after an erasure, see `_checkpoint`).
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def on_begin(conn: Connection) -> None:
        if conn.get_execution_options().get(READ_ONLY):
            # A reader's snapshot: under WAL it neither waits for the writer nor holds it up (the year's
            # report reads for seconds; with the write lock every intake would wait for it).
            conn.exec_driver_sql("BEGIN")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def make_database(engine: AsyncEngine, cipher: Cipher | None = None) -> Database:
    """The one way to get a Database: on SQLite its writers take turns in process (see WriteTurns), and
    the write-ahead log is emptied after an erasure. The cipher encrypts and decrypts the sealed columns
    (message text, notes, outbox payloads)."""
    if cipher is not None:
        use_cipher(engine, cipher)
    # Reports read without the write lock (see READ_ONLY).
    readers = make_sessionmaker(engine.execution_options(**{READ_ONLY: True}))
    if engine.dialect.name != "sqlite":
        # The inbound messages and the outbox's claims and sends: plain SQL on asyncpg, group-committed
        # in lanes (pg_writer.py), PG_WRITER_LANES + 1 connections.
        dsn = listen_dsn(engine.url.render_as_string(hide_password=False))
        assert dsn is not None
        return Database(
            make_sessionmaker(engine),
            readers=readers,
            writer=PgWriter(dsn, lanes=PG_WRITER_LANES),
            cipher=lambda: cipher_for(engine.dialect),
        )
    turns = WriteTurns(SQLITE_BUSY_TIMEOUT_MS / 1000)

    async def checkpoint() -> None:
        await _checkpoint(engine, turns)

    # The inbound messages' writes go through one connection in the event loop, batched (writer.py); a
    # database in memory (one per connection) cannot be shared with it.
    path = engine.url.database
    writer = SqliteWriter(path) if path and path != ":memory:" else None
    return Database(
        make_sessionmaker(engine),
        turns,
        checkpoint,
        readers,
        writer,
        cipher=lambda: cipher_for(engine.dialect),
    )


async def _checkpoint(engine: AsyncEngine, turns: WriteTurns) -> None:
    """Copy the write-ahead log into the file and truncate it to zero bytes. The WAL keeps every page as
    it was written, so text deleted from the file (and zeroed there by secure_delete) would stay readable
    in the -wal file until SQLite happens to reuse it. On the raw connection, outside a transaction: a
    checkpoint inside one could not include that transaction's own snapshot."""
    await turns.acquire()
    try:
        async with engine.connect() as conn:
            raw = await conn.get_raw_connection()
            cursor = await raw.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # type: ignore[union-attr]
            busy, _frames, _done = await cursor.fetchone()
            await cursor.close()
        if busy:
            log.warning("the WAL checkpoint after an erasure was blocked by a reader; the next one retries")
    finally:
        turns.release()


@dataclass(frozen=True)
class Storage:
    """A database opened by the running service or a command: the Database its work goes through, and
    what only its owner does with the engine under it (migrate, check readiness, lead the scheduled jobs,
    close), so that no edge handles an engine."""

    engine: AsyncEngine
    db: Database

    @classmethod
    def open(cls, url: str, cipher: Cipher | None = None) -> Storage:
        """The cipher is registered before migrating: a migration may encrypt what earlier versions
        stored in clear."""
        engine = make_engine(url)
        return cls(engine, make_database(engine, cipher))

    async def migrate(self) -> None:
        await migrate(self.engine)

    async def ready(self) -> bool:
        return await schema_ready(self.engine)

    def leadership(self) -> Leadership:
        return Leadership(self.engine)

    async def close(self) -> None:
        # The writer's jobs already submitted commit first (closing it twice is harmless).
        await self.db.close()
        await self.engine.dispose()


@asynccontextmanager
async def migrated_database(url: str, cipher: Cipher | None = None) -> AsyncIterator[Database]:
    """A migrated Database for one command, its engine disposed of afterwards."""
    storage = Storage.open(url, cipher)
    try:
        await storage.migrate()
        yield storage.db
    finally:
        await storage.close()


def alembic_config() -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(resources.files("intake.storage") / "migrations"))
    return cfg


async def migrate(engine: AsyncEngine) -> None:
    """Bring the schema to the newest revision (idempotent; run by `helpline migrate` and on start)."""

    def upgrade(connection: Connection) -> None:
        cfg = alembic_config()
        current = set(MigrationContext.configure(connection).get_current_heads())
        if newer := current - _known_revisions():
            # A newer release migrated this database (a rolling upgrade, or a rollback of the code): this
            # copy still runs on it, as /readyz says, and must not fail to start on a revision it lacks.
            log.warning("the database schema (%s) is newer than this release; not migrating", sorted(newer))
            return
        cfg.attributes["connection"] = connection
        # For a migration that encrypts what earlier versions stored in clear.
        cfg.attributes["cipher"] = cipher_for(connection.dialect)
        command.upgrade(cfg, "head")

    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # Copies of the service starting together would each create the same tables, and all but one
            # would fail: they take turns, and the later ones find the schema up to date. The lock is the
            # transaction's, so it is let go at commit or when a copy dies.
            await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        await conn.run_sync(upgrade)


class DatabaseUnusable(Exception):
    """The database cannot be reached or migrated. The message names the cause in one line, never the URL
    (it may hold a password)."""


async def migrate_or_refuse(engine: AsyncEngine) -> None:
    """`migrate`, with every way the database can be unusable (unreachable, refused, unwritable) as one
    exception the command line can report."""
    try:
        await migrate(engine)
    except (OSError, SQLAlchemyError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines() or [type(exc).__name__]
        raise DatabaseUnusable(reason[0]) from None


@functools.cache
def _known_revisions() -> frozenset[str]:
    return frozenset(rev.revision for rev in ScriptDirectory.from_config(alembic_config()).walk_revisions())


@functools.cache
def _revisions_behind_head() -> frozenset[str]:
    heads = set(ScriptDirectory.from_config(alembic_config()).get_heads())
    return _known_revisions() - heads


async def schema_ready(engine: AsyncEngine) -> bool:
    """The database answers and its schema is at least this code's: at our head, or at a revision we do
    not know (a newer copy migrated it during a rolling upgrade; migrations only add until every copy runs
    the new code, so an older copy stays ready). Behind our head, or not migrated at all: not ready."""
    try:
        async with engine.connect() as conn:
            current = set((await conn.execute(text("SELECT version_num FROM alembic_version"))).scalars())
    except Exception:
        return False
    return bool(current) and not current & _revisions_behind_head()


async def ping(engine: AsyncEngine) -> bool:
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception:
        return False
    return True
