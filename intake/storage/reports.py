"""The year's report as SQL aggregates: a few grouped passes over covering indexes, folded by the caller.

Months are stored as "YYYY-MM" text, so a year is the range [first, last] of that text.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from intake.storage.models import ActivityRecordRow, CaseRow, StatRecordRow

R = StatRecordRow


class Reports:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def _grouped(self, *columns: Any, first: str, last: str) -> Sequence[tuple[Any, ...]]:
        """Counts per combination of `columns` (which start with month, kind: an index's leading
        columns, in its order, so the database groups while it reads)."""
        stmt = select(*columns, func.count()).where(R.month >= first, R.month <= last).group_by(*columns)
        return [tuple(row) for row in (await self.session.execute(stmt)).all()]

    async def record_groups(self, first: str, last: str) -> Sequence[tuple[Any, ...]]:
        """(month, kind, channel, role, age_group, gender, follow_up, n)."""
        return await self._grouped(
            R.month, R.kind, R.channel, R.role, R.age_group, R.gender, R.follow_up, first=first, last=last
        )

    async def topic_groups(self, first: str, last: str) -> Sequence[tuple[Any, ...]]:
        """(month, kind, topic_bits, n)."""
        return await self._grouped(R.month, R.kind, R.topic_bits, first=first, last=last)

    async def country_groups(self, first: str, last: str) -> Sequence[tuple[Any, ...]]:
        """(month, kind, country, n)."""
        return await self._grouped(R.month, R.kind, R.country, first=first, last=last)

    async def records_between(self, first: str, last: str) -> int:
        stmt = select(func.count()).select_from(R).where(R.month >= first, R.month <= last)
        return int((await self.session.execute(stmt)).scalar_one())

    async def activity_groups(self, first: str, last: str) -> Sequence[tuple[Any, ...]]:
        """(month, origin, kind, n) of activities and concern decisions."""
        a = ActivityRecordRow
        stmt = (
            select(a.month, a.origin, a.kind, func.count())
            .where(a.month >= first, a.month <= last)
            .group_by(a.month, a.origin, a.kind)
        )
        return [tuple(row) for row in (await self.session.execute(stmt)).all()]

    async def case_groups(self, start: date, end: date) -> Sequence[tuple[Any, ...]]:
        """(origin, has consent, age_group, gender, opened within the year, n) of the cases open at some
        time in [start, end]; cases deleted by retention are no longer counted here."""
        c = CaseRow
        since = datetime.combine(start, time(0), tzinfo=UTC)
        consent = c.consent_date.is_not(None)
        opened = and_(c.opened_on >= start, c.opened_on <= end)
        stmt = (
            select(c.origin, consent, c.age_group, c.gender, opened, func.count())
            .where(c.opened_on <= end, or_(c.closed_at.is_(None), c.closed_at >= since))
            .group_by(c.origin, consent, c.age_group, c.gender, opened)
        )
        return [tuple(row) for row in (await self.session.execute(stmt)).all()]
