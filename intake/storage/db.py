"""Engines for SQLite (the embedded default) and PostgreSQL, and running the migrations."""

from __future__ import annotations

from importlib import resources
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.ext.asyncio import AsyncSession as AsyncSession

from intake.storage.uow import Database, WriteTurns

DEFAULT_URL = "sqlite+aiosqlite:///./helpline.db"
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
    # Up to 30 connections, all kept open: with 10 kept and 20 more opened and closed on demand, a busy
    # minute opened a hundred connections, each paying a connect, a login and asyncpg preparing every
    # statement again.
    kwargs.setdefault("pool_size", 30)
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


def make_database(engine: AsyncEngine) -> Database:
    """The one way to get a Database: on SQLite its writers take turns in process (see WriteTurns)."""
    turns = WriteTurns(SQLITE_BUSY_TIMEOUT_MS / 1000) if engine.dialect.name == "sqlite" else None
    readers = make_sessionmaker(engine.execution_options(**{READ_ONLY: True}))
    return Database(make_sessionmaker(engine), turns, readers)


def alembic_config() -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(resources.files("intake.storage") / "migrations"))
    return cfg


async def migrate(engine: AsyncEngine) -> None:
    """Bring the schema to the newest revision (idempotent; run by `helpline migrate` and on start)."""

    def upgrade(connection: Connection) -> None:
        cfg = alembic_config()
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")

    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # Copies of the service starting together would each create the same tables, and all but one
            # would fail: they take turns, and the later ones find the schema up to date. The lock is the
            # transaction's, so it is let go at commit or when a copy dies.
            await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        await conn.run_sync(upgrade)


async def ping(engine: AsyncEngine) -> bool:
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception:
        return False
    return True
