"""The migrations build exactly the schema the models describe, on SQLite and on PostgreSQL, and several
copies of the service may run them at once."""

from __future__ import annotations

import asyncio
import os
from asyncio.subprocess import PIPE, STDOUT
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from intake.storage.models import Base
from tests.conftest import HELPLINE_COMMAND


async def test_models_and_migrations_agree(engine: AsyncEngine) -> None:
    def diff(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))

    async with engine.connect() as conn:
        differences = await conn.run_sync(diff)
    assert differences == []


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_copies_migrating_a_new_database_at_once_all_succeed(database_url: str, tmp_path: Path) -> None:
    """Replicas of a deployment start together; each migrates first, and none may fail for the others."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "HELPLINE_ENV": "development",
        "HELPLINE_DATABASE_URL": database_url,
    }
    copies = [
        await asyncio.create_subprocess_exec(
            *HELPLINE_COMMAND, "migrate", env=env, stdout=PIPE, stderr=STDOUT
        )
        for _ in range(3)
    ]
    async with asyncio.timeout(120):
        outputs = await asyncio.gather(*(copy.communicate() for copy in copies))
    results = [
        (copy.returncode, out.decode().strip()) for copy, (out, _) in zip(copies, outputs, strict=True)
    ]
    assert results == [(0, "database is up to date")] * 3
