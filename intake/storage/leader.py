"""Which copy of the service runs the scheduled jobs (retention and the like).

On PostgreSQL it is the copy holding a session-level advisory lock on a connection of its own: the lock
lasts as long as that connection, so a copy that dies (even by SIGKILL) lets go of it at once, and another
copy takes it at its next try. On SQLite one process is the supported shape, and it always leads.
"""

from __future__ import annotations

import contextlib
import logging

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

log = logging.getLogger(__name__)

# Any fixed number, the same in every copy, different from the migration lock (db.MIGRATION_LOCK).
JOBS_LOCK = 0x68656C71


class Leadership:
    def __init__(self, engine: AsyncEngine, key: int = JOBS_LOCK) -> None:
        self._engine = engine
        self._key = key
        self._conn: AsyncConnection | None = None

    async def held(self) -> bool:
        """True while this copy may run the scheduled jobs; tries to take the lead when it has not got it.
        Asked before every run, so a lost connection (and with it the lock) is noticed before a job."""
        if self._engine.dialect.name != "postgresql":
            return True
        if self._conn is not None:
            try:
                await self._conn.execute(text("SELECT 1"))
                return True
            except Exception:
                log.warning("scheduled jobs: lost the connection that held the lead")
                await self._drop()
                return False
        # Autocommit: the connection is kept for hours, and must not sit idle inside a transaction.
        conn = await self._engine.connect()
        try:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            got = await conn.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": self._key})
        except BaseException:
            await conn.close()
            raise
        if not got:
            await conn.close()
            return False
        self._conn = conn
        return True

    async def release(self) -> None:
        """Let another copy lead at once (a planned stop), rather than when this connection closes."""
        if self._conn is None:
            return
        try:
            await self._conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self._key})
        except Exception:
            log.warning("scheduled jobs: could not release the lead; it ends with the connection")
        await self._drop()

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                await conn.close()
            except Exception:
                with contextlib.suppress(Exception):
                    await conn.invalidate()
