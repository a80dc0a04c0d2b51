"""Several copies claiming from one outbox on PostgreSQL: one person's replies never go out of order."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from intake.storage.db import make_database
from tests.integration.test_repositories import LEASE, NOW, add_outbox, claim, outbox_row

pytestmark = [pytest.mark.postgres, pytest.mark.parametrize("database_url", ["postgres"], indirect=True)]


async def test_a_claim_waits_for_another_copys_claim_and_never_takes_a_later_reply(
    engine: AsyncEngine,
) -> None:
    db = make_database(engine)
    [first] = await add_outbox(db, outbox_row())
    async with db.uow() as copy_a:
        taken = await copy_a.outbox.claim_due(NOW, 50, LEASE, ["telegram"])
        assert [row.id for row in taken] == [first]
        # The same person's next reply is committed while copy A's claim is not yet.
        await add_outbox(db, outbox_row())
        copy_b = asyncio.create_task(claim(db, NOW))
        await asyncio.sleep(0.3)
        # Copy B must not take it now: it would send it while A may not have sent the first one yet.
        assert not copy_b.done()
        await copy_a.commit()
    # Once A's claim is in, B sees the first reply leased, and the second waits for it.
    assert await copy_b == []
