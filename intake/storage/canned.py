"""The canned replies administrators have reworded: one row per reply and language, none for the default."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from intake.storage.models import CannedReplyRow
from intake.storage.repositories import _insert


class CannedReplies:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def all(self, lang: str | None = None) -> Sequence[CannedReplyRow]:
        stmt = select(CannedReplyRow).order_by(CannedReplyRow.key, CannedReplyRow.lang)
        if lang is not None:
            stmt = stmt.where(CannedReplyRow.lang == lang)
        return (await self.session.scalars(stmt)).all()

    async def put(self, key: str, lang: str, text: str, by: str, now: datetime) -> CannedReplyRow:
        """Writes the override in one statement: two administrators saving the same reply at once leave
        one row, the later wording (never a unique-key error)."""
        changed = {"text": text, "updated_by": by, "updated_at": now}
        stmt = (
            _insert(self.session, CannedReplyRow)
            .values(key=key, lang=lang, **changed)
            .on_conflict_do_update(index_elements=["key", "lang"], set_=changed)
        )
        row: CannedReplyRow = (
            await self.session.scalars(
                stmt.returning(CannedReplyRow), execution_options={"populate_existing": True}
            )
        ).one()
        return row

    async def clear(self, key: str, lang: str) -> bool:
        """Removes the override; whether there was one."""
        result = await self.session.execute(
            delete(CannedReplyRow).where(CannedReplyRow.key == key, CannedReplyRow.lang == lang)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]
