"""Shared fixtures: compiled catalogs, a flow context, and databases (SQLite file, real PostgreSQL)."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from intake.flow import FlowContext
from intake.i18n import Catalogs, compile_catalogs, default_locales_dir
from intake.keywords import default_table
from intake.privacy import Keys
from intake.storage.db import make_engine, migrate
from intake.storage.sealed import use_cipher

OSLO = ZoneInfo("Europe/Oslo")
LANGUAGES = ("nb", "en")
# A Tuesday morning in November 2026: open by the default hours (not for the web chat).
TUESDAY_10 = datetime(2026, 11, 24, 10, 0, tzinfo=OSLO)
# A key as an operator would generate it (`secrets.token_urlsafe(32)`).
TEST_SECRET_KEY = "mJ1uYV6h3sQ0xk9LrZ4pWc2TnE8bDfGa7o5Ki-_HqRw"
REPO = Path(__file__).resolve().parents[1]
# The `helpline` command as an operator runs it: the console script of this venv (`python -m bots.cli`
# where the script is missing).
_HELPLINE = Path(sys.executable).with_name("helpline")
HELPLINE_COMMAND = [str(_HELPLINE)] if _HELPLINE.exists() else [sys.executable, "-m", "bots.cli"]


@pytest.fixture(scope="session")
def catalogs() -> Catalogs:
    compile_catalogs(default_locales_dir())
    loaded = Catalogs(default_locales_dir(), LANGUAGES)
    assert loaded.missing() == []
    return loaded


@pytest.fixture
def make_ctx(catalogs: Catalogs) -> Callable[..., FlowContext]:
    def build(**overrides: Any) -> FlowContext:
        now = overrides.pop("now", TUESDAY_10)
        values: dict[str, Any] = {
            "now": now,
            "is_open": True,
            "next_opening": None,
            "timezone": OSLO,
            "languages": LANGUAGES,
            "texts": catalogs.texts,
            "keywords": default_table(),
            "opt_out": False,
        }
        values.update(overrides)
        return FlowContext(**values)

    return build


def postgres_url() -> str | None:
    return os.environ.get("HELPLINE_TEST_POSTGRES_URL") or None


def _require_postgres() -> str:
    url = postgres_url()
    if url is None:
        if os.environ.get("CI"):
            pytest.fail("HELPLINE_TEST_POSTGRES_URL is not set: PostgreSQL tests must run in CI")
        pytest.skip("no PostgreSQL configured (HELPLINE_TEST_POSTGRES_URL)")
    return url


async def _scratch_postgres(admin_url: str) -> AsyncIterator[str]:
    """A fresh database per test on the real server, dropped afterwards."""
    name = f"helpline_test_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except OSError as exc:
        await admin.dispose()
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL at {admin_url} is not reachable: {exc}")
        pytest.skip(f"PostgreSQL not reachable: {exc}")
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        async with admin.connect() as conn:
            await conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """The same test on SQLite (a file, as in production) and on a real PostgreSQL server."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'helpline.db'}"
        return
    async for url in _scratch_postgres(_require_postgres()):
        yield url


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    eng = make_engine(database_url)
    # Message text is stored encrypted: a test that builds its Database without keys still has one.
    use_cipher(eng, Keys.from_secret(TEST_SECRET_KEY))
    await migrate(eng)
    try:
        yield eng
    finally:
        await eng.dispose()
