"""The year's report reads for seconds over a large year; meanwhile the intake must go on writing."""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import AsyncEngine

from intake.storage.db import make_database


async def test_a_reader_does_not_hold_up_a_writer(engine: AsyncEngine) -> None:
    db = make_database(engine)
    async with db.reader() as reader:
        assert await reader.reports.records_between("2022-01", "2022-12") == 0  # its transaction is open
        async with asyncio.timeout(3), db.uow() as writer:
            await writer.stats.put(None, month="2022-05", channel="sms", topics=["fgm"])
            await writer.commit()
        # A snapshot: the reader goes on seeing the year as it was when it began.
        assert await reader.reports.records_between("2022-01", "2022-12") in (0, 1)
    async with db.reader() as reader:
        assert await reader.reports.records_between("2022-01", "2022-12") == 1
