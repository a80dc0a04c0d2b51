"""The follow-up cases' queries: cases, their activities and concern decisions, and the anonymous counts
that outlive them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from intake.categories import CaseStatus
from intake.storage.models import ActivityRecordRow, CaseActivityRow, CaseRow, ConcernDecisionRow


class Cases:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, case: CaseRow) -> CaseRow:
        self.session.add(case)
        await self.session.flush()
        return case

    async def code_taken(self, code: str) -> bool:
        found = await self.session.execute(select(CaseRow.id).where(CaseRow.code == code))
        return found.first() is not None

    async def get(self, case_id: int) -> CaseRow | None:
        return await self.session.get(CaseRow, case_id)

    async def listing(self, limit: int = 500) -> Sequence[CaseRow]:
        """Open cases first, then the newest."""
        stmt = select(CaseRow).order_by(CaseRow.status.desc(), CaseRow.opened_on.desc(), CaseRow.id.desc())
        return (await self.session.execute(stmt.limit(limit))).scalars().all()

    async def activities(self, case_id: int) -> Sequence[CaseActivityRow]:
        stmt = (
            select(CaseActivityRow)
            .where(CaseActivityRow.case_id == case_id)
            .order_by(CaseActivityRow.happened_on, CaseActivityRow.id)
        )
        return (await self.session.execute(stmt)).scalars().all()

    async def decisions(self, case_id: int) -> Sequence[ConcernDecisionRow]:
        stmt = (
            select(ConcernDecisionRow)
            .where(ConcernDecisionRow.case_id == case_id)
            .order_by(ConcernDecisionRow.decided_on, ConcernDecisionRow.id)
        )
        return (await self.session.execute(stmt)).scalars().all()

    def log(self, activity: CaseActivityRow | ConcernDecisionRow, counted: ActivityRecordRow) -> None:
        """An activity or decision on the case, and its anonymous count for the statistics."""
        self.session.add_all([activity, counted])

    async def delete_closed_before(self, cutoff: datetime) -> int:
        """Closed cases past retention go, with their activities, notes and decisions (the anonymous
        counts stay)."""
        ids = select(CaseRow.id).where(CaseRow.status == CaseStatus.CLOSED, CaseRow.closed_at < cutoff)
        # Explicitly, not by the foreign keys' cascade alone: SQLite enforces it only with its pragma on.
        for table in (CaseActivityRow, ConcernDecisionRow):
            await self.session.execute(delete(table).where(table.case_id.in_(ids)))
        result = await self.session.execute(
            delete(CaseRow).where(CaseRow.status == CaseStatus.CLOSED, CaseRow.closed_at < cutoff)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]
