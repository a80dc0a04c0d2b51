"""The phone line's queries: calls, their voicemails and the staff on phone duty."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from intake.storage.models import CallRow, PhoneDutyRow, VoicemailRow


class Calls:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def by_sid(self, call_sid: str) -> CallRow | None:
        found = await self.session.execute(select(CallRow).where(CallRow.call_sid == call_sid))
        return found.scalar_one_or_none()

    async def get(self, call_id: int) -> CallRow | None:
        return await self.session.get(CallRow, call_id)

    async def add(self, call: CallRow) -> CallRow:
        self.session.add(call)
        await self.session.flush()
        return call

    async def called_before(self, pseudonym: str, before: datetime) -> bool:
        stmt = select(CallRow.id).where(CallRow.pseudonym == pseudonym, CallRow.started_at < before)
        return (await self.session.execute(stmt.limit(1))).first() is not None

    async def listing(self, limit: int = 200) -> Sequence[tuple[CallRow, VoicemailRow | None]]:
        stmt = (
            select(CallRow, VoicemailRow)
            .outerjoin(VoicemailRow, VoicemailRow.call_id == CallRow.id)
            .order_by(CallRow.started_at.desc(), CallRow.id.desc())
            .limit(limit)
        )
        return [(call, mail) for call, mail in (await self.session.execute(stmt)).all()]

    async def voicemail(self, call_id: int) -> VoicemailRow | None:
        found = await self.session.execute(select(VoicemailRow).where(VoicemailRow.call_id == call_id))
        return found.scalar_one_or_none()

    async def voicemail_by_recording(self, recording_sid: str) -> VoicemailRow | None:
        stmt = select(VoicemailRow).where(VoicemailRow.recording_sid == recording_sid)
        return (await self.session.execute(stmt)).scalar_one_or_none()

    def add_voicemail(self, mail: VoicemailRow) -> None:
        self.session.add(mail)

    async def erase(self, call_id: int) -> bool:
        """The voicemail and every trace of the number go; the call's bare facts (when, how long) stay."""
        await self.session.execute(delete(VoicemailRow).where(VoicemailRow.call_id == call_id))
        result = await self.session.execute(
            update(CallRow)
            .where(CallRow.id == call_id)
            .values(number_enc=None, pseudonym=None, callback_consent="no")
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def delete_started_before(self, cutoff: datetime) -> int:
        # Explicitly, not by the foreign key's cascade alone: SQLite enforces it only with its pragma on.
        old = select(CallRow.id).where(CallRow.started_at < cutoff)
        await self.session.execute(delete(VoicemailRow).where(VoicemailRow.call_id.in_(old)))
        result = await self.session.execute(delete(CallRow).where(CallRow.started_at < cutoff))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


class PhoneDuty:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, staff_name: str) -> PhoneDutyRow | None:
        return await self.session.get(PhoneDutyRow, staff_name)

    def add(self, row: PhoneDutyRow) -> None:
        self.session.add(row)

    async def on_duty(self) -> Sequence[PhoneDutyRow]:
        stmt = select(PhoneDutyRow).where(PhoneDutyRow.on_duty).order_by(PhoneDutyRow.staff_name)
        return (await self.session.execute(stmt)).scalars().all()
