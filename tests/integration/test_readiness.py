"""/readyz: ready when the database answers and its schema is at least this code's (SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bots.app import WIRING, make_app
from intake.config import load_settings
from intake.storage.db import make_engine, migrate, schema_ready
from tests.conftest import REPO, TEST_SECRET_KEY


async def set_revision(engine: AsyncEngine, revision: str) -> None:
    async with engine.begin() as conn:
        await conn.execute(text("UPDATE alembic_version SET version_num = :rev"), {"rev": revision})


async def test_ready_only_at_our_head_or_a_newer_revision(engine: AsyncEngine) -> None:
    assert await schema_ready(engine)
    # Behind: a copy of this code must not take traffic before the migration ran.
    await set_revision(engine, "0003")
    assert not await schema_ready(engine)
    # A revision this code does not know: a newer copy migrated during a rolling upgrade; still ready.
    await set_revision(engine, "0099_from_a_newer_release")
    assert await schema_ready(engine)


async def test_an_older_copy_starts_on_a_database_a_newer_release_migrated(engine: AsyncEngine) -> None:
    """During a rolling upgrade an old copy may restart after the new migration ran: it must come up,
    leaving the schema as it is, rather than fail on a revision it does not know."""
    await set_revision(engine, "0099_from_a_newer_release")
    await migrate(engine)
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar() == (
            "0099_from_a_newer_release"
        )


async def test_not_ready_before_any_migration(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        assert not await schema_ready(engine)
    finally:
        await engine.dispose()


async def test_readyz_answers_503_when_the_schema_is_behind(database_url: str, tmp_path: Path) -> None:
    settings = load_settings(
        {
            "HELPLINE_ENV": "development",
            "HELPLINE_SECRET_KEY": TEST_SECRET_KEY,
            "HELPLINE_DATABASE_URL": database_url,
            "HELPLINE_CONFIG": str(REPO / "deploy" / "config" / "always-open.toml"),
        }
    )
    app = make_app(settings, run_outbox=False)
    async with TestClient(TestServer(app)) as client:
        assert (await client.get("/readyz")).status == 200
        await set_revision(app[WIRING].storage.engine, "0003")
        response = await client.get("/readyz")
        assert response.status == 503
        assert await response.json() == {"status": "database unavailable or not migrated"}
        assert (await client.get("/healthz")).status == 200
