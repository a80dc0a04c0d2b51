"""The queries of staff accounts, console sessions, sign-in attempts and the audit log."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from intake.storage.models import AuditRow, LoginAttemptRow, StaffRow, StaffSessionRow


class Staff:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def by_name(self, name: str) -> StaffRow | None:
        return await self.session.scalar(select(StaffRow).where(StaffRow.name == name))

    async def get(self, staff_id: int) -> StaffRow | None:
        return await self.session.get(StaffRow, staff_id)

    def add(self, name: str, password_hash: str, role: str, now: datetime) -> None:
        self.session.add(StaffRow(name=name, password_hash=password_hash, role=role, created_at=now))

    async def enabled_names(self) -> list[str]:
        return sorted(await self.session.scalars(select(StaffRow.name).where(StaffRow.disabled.is_(False))))

    async def add_attempts(self, keys: Sequence[str], now: datetime) -> list[int]:
        """One sign-in attempt under each key; their ids once flushed."""
        rows = [LoginAttemptRow(key=key, at=now) for key in keys]
        self.session.add_all(rows)
        await self.session.flush()
        return [row.id for row in rows]

    async def attempts_since(self, key: str, since: datetime) -> int:
        count = await self.session.scalar(
            select(func.count())
            .select_from(LoginAttemptRow)
            .where(LoginAttemptRow.key == key, LoginAttemptRow.at > since)
        )
        return count or 0

    async def forget_attempts(self, ids: Sequence[int], key: str | None = None) -> None:
        """These attempts, and with `key` every attempt under it."""
        mine = LoginAttemptRow.id.in_(ids)
        await self.session.execute(
            delete(LoginAttemptRow).where(mine if key is None else (LoginAttemptRow.key == key) | mine)
        )

    def add_session(self, row: StaffSessionRow) -> None:
        self.session.add(row)

    async def session_by_hash(self, token_hash: str) -> StaffSessionRow | None:
        return await self.session.get(StaffSessionRow, token_hash)

    async def drop_session(self, row: StaffSessionRow) -> None:
        await self.session.delete(row)

    async def end_session(self, token_hash: str) -> None:
        await self.session.execute(delete(StaffSessionRow).where(StaffSessionRow.token_hash == token_hash))

    async def end_sessions_of(self, staff_id: int) -> None:
        await self.session.execute(delete(StaffSessionRow).where(StaffSessionRow.staff_id == staff_id))

    async def anyone_signed_in(self, now: datetime, active_since: datetime) -> bool:
        found = await self.session.scalar(
            select(StaffSessionRow.token_hash)
            .join(StaffRow, StaffRow.id == StaffSessionRow.staff_id)
            .where(
                StaffRow.disabled.is_(False),
                StaffSessionRow.expires_at > now,
                StaffSessionRow.last_seen_at > active_since,
            )
            .limit(1)
        )
        return found is not None

    def audit(self, staff_name: str, action: str, conversation_id: str | None, at: datetime) -> None:
        self.session.add(
            AuditRow(staff_name=staff_name, action=action, conversation_id=conversation_id, at=at)
        )

    async def audit_log(self, limit: int) -> Sequence[AuditRow]:
        return (await self.session.scalars(select(AuditRow).order_by(AuditRow.id.desc()).limit(limit))).all()
