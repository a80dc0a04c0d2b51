"""The canned replies administrators have reworded: one row per reply and language, none for the default."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from intake.storage.models import CannedReplyRow


class CannedReplies:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def all(self, lang: str | None = None) -> Sequence[CannedReplyRow]:
        stmt = select(CannedReplyRow).order_by(CannedReplyRow.key, CannedReplyRow.lang)
        if lang is not None:
            stmt = stmt.where(CannedReplyRow.lang == lang)
        return (await self.session.scalars(stmt)).all()

    async def put(self, key: str, lang: str, text: str, by: str, now: datetime) -> CannedReplyRow:
        """Writes the override (a second save of the same reply changes the one row)."""
        stmt = select(CannedReplyRow).where(CannedReplyRow.key == key, CannedReplyRow.lang == lang)
        row = (await self.session.scalars(stmt)).first()
        if row is None:
            row = CannedReplyRow(key=key, lang=lang, text=text, updated_by=by, updated_at=now)
            self.session.add(row)
        else:
            row.text, row.updated_by, row.updated_at = text, by, now
        await self.session.flush()
        return row

    async def clear(self, key: str, lang: str) -> bool:
        """Removes the override; whether there was one."""
        result = await self.session.execute(
            delete(CannedReplyRow).where(CannedReplyRow.key == key, CannedReplyRow.lang == lang)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]
