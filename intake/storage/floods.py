"""The queries of the web chat's limits and floods: counted events per key, conversations per source."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from intake.messages import ConversationStatus
from intake.storage.models import ConversationRow, RateEventRow, StatRecordRow

# A flood's conversations that staff can clear: not those a staff member holds, nor closed ones.
CLEARABLE = (ConversationStatus.INTAKE, ConversationStatus.QUEUED)


class RateEvents:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def record(self, keys: Sequence[str], now: datetime) -> list[int]:
        rows = [RateEventRow(key=key, at=now) for key in keys]
        self.session.add_all(rows)
        await self.session.flush()
        return [row.id for row in rows]

    async def count(self, key: str, since: datetime) -> int:
        stmt = (
            select(func.count())
            .select_from(RateEventRow)
            .where(RateEventRow.key == key, RateEventRow.at > since)
        )
        return int((await self.session.execute(stmt)).scalar_one())

    async def forget(self, ids: Sequence[int]) -> None:
        await self.session.execute(delete(RateEventRow).where(RateEventRow.id.in_(ids)))

    async def forget_before(self, cutoff: datetime) -> int:
        result = await self.session.execute(delete(RateEventRow).where(RateEventRow.at < cutoff))
        return int(getattr(result, "rowcount", 0) or 0)


class Floods:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def opened_since(self, source: str, since: datetime) -> int:
        """Conversations opened from this source since then (whatever became of them)."""
        stmt = (
            select(func.count())
            .select_from(ConversationRow)
            .where(ConversationRow.source == source, ConversationRow.created_at > since)
        )
        return int((await self.session.execute(stmt)).scalar_one())

    async def mark(self, source: str) -> None:
        """Every open conversation from this source joins the flood (also the first few, opened before it
        looked like one)."""
        await self.session.execute(
            update(ConversationRow)
            .where(
                ConversationRow.source == source,
                ConversationRow.flood.is_(False),
                ConversationRow.status.in_(CLEARABLE),
            )
            .values(flood=True)
            .execution_options(synchronize_session=False)
        )

    async def waiting(self) -> list[tuple[str, int]]:
        """(source, how many of its conversations are open and not held by staff), largest flood first."""
        stmt = (
            select(ConversationRow.source, func.count())
            .where(
                ConversationRow.flood.is_(True),
                ConversationRow.source.is_not(None),
                ConversationRow.status.in_(CLEARABLE),
            )
            .group_by(ConversationRow.source)
            .order_by(func.count().desc())
        )
        return [(str(source), int(count)) for source, count in (await self.session.execute(stmt)).all()]

    async def clear(self, source: str, now: datetime) -> list[ConversationRow]:
        """Closes the flood's open conversations (not those a staff member holds); returns them."""
        stmt = select(ConversationRow).where(
            ConversationRow.source == source,
            ConversationRow.flood.is_(True),
            ConversationRow.status.in_(CLEARABLE),
        )
        rows = list((await self.session.execute(stmt)).scalars().all())
        records = [conv.stat_key for conv in rows if conv.stat_key is not None]
        if records:
            await self.session.execute(delete(StatRecordRow).where(StatRecordRow.key.in_(records)))
        for conv in rows:
            conv.status, conv.closed_at, conv.updated_at, conv.stat_key = (
                ConversationStatus.CLOSED,
                now,
                now,
                None,
            )
        return rows
