"""Follow-up cases (the report's chapter 5): opened from a conversation or by hand, with activities and
concern decisions logged on them, closed, and deleted after the retention period.

A case knows a person by a random code and, if staff want one, an alias stored encrypted. It never holds an
address (some users have a protected address) or a national id number: there is no field for them.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from intake.categories import (
    FOLLOW_UP_ACTIVITIES,
    NOT_STATED,
    AgeGroup,
    CaseOrigin,
    CaseStatus,
    Decision,
    Duty,
    Gender,
    option_ids,
)
from intake.flow import FlowState
from intake.privacy import Keys, UnreadableAddress
from intake.storage.models import ActivityRecordRow, CaseActivityRow, CaseRow, ConcernDecisionRow
from intake.storage.uow import Database, UnitOfWork

ACTIVITY_KINDS = option_ids(FOLLOW_UP_ACTIVITIES)
MAX_ALIAS = 64
MAX_NOTE = 4000
DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
CODE_TRIES = 50


class CaseError(ValueError):
    """Input that cannot be stored (400), or a case that is not there (404) or closed (409)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def _only(data: Mapping[str, object], *names: str) -> None:
    """Refuse fields the case has no place for (an address, a national id number): never dropped silently."""
    unknown = sorted(set(data) - set(names))
    if unknown:
        raise CaseError(f"{unknown[0]}: no such field; a case holds only {', '.join(names)}")


def _choice(data: Mapping[str, object], name: str, allowed: frozenset[str], default: str | None) -> str:
    value = data.get(name)
    if (value is None or value == "") and default is not None:
        return default
    if not isinstance(value, str) or value not in allowed:
        raise CaseError(f"{name}: {value!r} is not one of {', '.join(sorted(allowed))}")
    return value


def _day(data: Mapping[str, object], name: str, today: date, required: bool) -> date | None:
    value = data.get(name)
    if value is None or value == "":
        if required:
            raise CaseError(f"{name}: required, a date as YYYY-MM-DD")
        return None
    if not isinstance(value, str) or not DAY.fullmatch(value):
        raise CaseError(f"{name}: {value!r} is not a date as YYYY-MM-DD")
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise CaseError(f"{name}: {value!r} is not a date as YYYY-MM-DD") from None
    if day > today:
        raise CaseError(f"{name}: {value} is in the future")
    return day


def _text(data: Mapping[str, object], name: str, limit: int, required: bool = False) -> str | None:
    value = data.get(name)
    if value is None or value == "":
        if required:
            raise CaseError(f"{name}: required")
        return None
    # Printable (line breaks allowed in notes): no NUL, no lone surrogate, which no database stores.
    if not isinstance(value, str) or len(value) > limit or not value.replace("\n", " ").isprintable():
        raise CaseError(f"{name}: text of at most {limit} printable characters")
    return value


def month_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


@dataclass
class CaseService:
    db: Database
    keys: Keys
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    def _today(self) -> date:
        return self.clock().date()

    async def open(self, data: Mapping[str, object], staff: str) -> dict[str, Any]:
        _only(data, "origin", "consent_date", "age_group", "gender", "alias", "opened_on", "conversation")
        if data.get("conversation") is not None:
            data = await self._from_conversation(data)
        today = self._today()
        # A line that starts using the service brings its running cases with the day each was opened.
        opened_on = _day(data, "opened_on", today, required=False) or today
        origin = _choice(data, "origin", frozenset(CaseOrigin), None)
        consent = _day(data, "consent_date", today, required=False)
        age_group = _choice(data, "age_group", frozenset(AgeGroup), NOT_STATED)
        gender = _choice(data, "gender", frozenset(Gender), NOT_STATED)
        alias = _text(data, "alias", MAX_ALIAS)
        async with self.db.uow() as uow:
            for _ in range(CODE_TRIES):
                code = f"K-{opened_on.year:04d}-{secrets.randbelow(10_000):04d}"
                if not await uow.cases.code_taken(code):
                    break
            else:
                raise CaseError("no free case code left this year", status=409)
            case = await uow.cases.add(
                CaseRow(
                    code=code,
                    origin=origin,
                    consent_date=consent,
                    age_group=age_group,
                    gender=gender,
                    responsible=staff,
                    status=CaseStatus.OPEN,
                    alias_enc=self.keys.encrypt(alias) if alias else None,
                    opened_on=opened_on,
                )
            )
            await uow.commit()
            return {"id": case.id, "code": case.code}

    async def _from_conversation(self, data: Mapping[str, object]) -> dict[str, object]:
        """Opened from a conversation: what its intake found fills what staff left out (a first-time
        contact of this line, its age group and gender). The case keeps no link to the conversation,
        which is deleted with its transcript."""
        conversation_id = data.get("conversation")
        if not isinstance(conversation_id, str) or len(conversation_id) != 36:
            raise CaseError("conversation: the id of a conversation")
        async with self.db.uow() as uow:
            conversation = await uow.conversations.get(conversation_id)
        if conversation is None:
            raise CaseError("conversation: no such conversation", status=404)
        state = FlowState.from_json(conversation.state)
        found = {"origin": CaseOrigin.HELPLINE.value, "age_group": state.age, "gender": state.gender}
        filled = {name: value for name, value in found.items() if value and data.get(name) in (None, "")}
        return {**{k: v for k, v in data.items() if k != "conversation"}, **filled}

    async def _open_case(self, uow: UnitOfWork, case_id: int) -> CaseRow:
        case = await uow.cases.get(case_id)
        if case is None:
            raise CaseError("no such case", status=404)
        if case.status != CaseStatus.OPEN:
            raise CaseError("the case is closed", status=409)
        return case

    async def log_activity(self, case_id: int, data: Mapping[str, object], staff: str) -> dict[str, Any]:
        _only(data, "kind", "date", "note")
        kind = _choice(data, "kind", ACTIVITY_KINDS, None)
        day = _day(data, "date", self._today(), required=True)
        assert day is not None
        note = _text(data, "note", MAX_NOTE)
        async with self.db.uow() as uow:
            case = await self._open_case(uow, case_id)
            activity = CaseActivityRow(
                case_id=case.id,
                kind=kind,
                happened_on=day,
                note_enc=self.keys.encrypt(note) if note else None,
                logged_by=staff,
            )
            uow.cases.log(activity, ActivityRecordRow(month=month_of(day), origin=case.origin, kind=kind))
            await uow.commit()
            return {"id": activity.id}

    async def decide(self, case_id: int, data: Mapping[str, object], staff: str) -> dict[str, Any]:
        """A concern decision: which duty, what was decided, why, by whom."""
        _only(data, "date", "duty", "decision", "reason")
        duty = _choice(data, "duty", frozenset(Duty), None)
        decision = _choice(data, "decision", frozenset(Decision), None)
        day = _day(data, "date", self._today(), required=True)
        assert day is not None
        reason = _text(data, "reason", MAX_NOTE, required=True)
        assert reason is not None
        async with self.db.uow() as uow:
            case = await self._open_case(uow, case_id)
            row = ConcernDecisionRow(
                case_id=case.id,
                decided_on=day,
                duty=duty,
                decision=decision,
                reason_enc=self.keys.encrypt(reason),
                decided_by=staff,
            )
            counted = ActivityRecordRow(
                month=month_of(day), origin=case.origin, kind=f"decision:{duty}:{decision}"
            )
            uow.cases.log(row, counted)
            await uow.commit()
            return {"id": row.id}

    async def close(self, case_id: int) -> None:
        async with self.db.uow() as uow:
            case = await self._open_case(uow, case_id)
            case.status, case.closed_at = CaseStatus.CLOSED, self.clock()
            await uow.commit()

    def _read(self, token: bytes | None) -> str | None:
        if token is None:
            return None
        try:
            return self.keys.decrypt(token)
        except UnreadableAddress:
            return None  # written under an earlier secret key: unreadable, not an error

    def _summary(self, case: CaseRow) -> dict[str, Any]:
        return {
            "id": case.id,
            "code": case.code,
            "alias": self._read(case.alias_enc),
            "origin": case.origin,
            "consent_date": case.consent_date.isoformat() if case.consent_date else None,
            "age_group": case.age_group,
            "gender": case.gender,
            "responsible": case.responsible,
            "status": case.status,
            "opened_on": case.opened_on.isoformat(),
            "closed_at": case.closed_at.isoformat() if case.closed_at else None,
        }

    async def listing(self) -> list[dict[str, Any]]:
        async with self.db.uow() as uow:
            return [self._summary(case) for case in await uow.cases.listing()]

    async def detail(self, case_id: int) -> dict[str, Any]:
        async with self.db.uow() as uow:
            case = await uow.cases.get(case_id)
            if case is None:
                raise CaseError("no such case", status=404)
            activities = await uow.cases.activities(case_id)
            decisions = await uow.cases.decisions(case_id)
        return {
            **self._summary(case),
            "activities": [
                {
                    "id": a.id,
                    "kind": a.kind,
                    "date": a.happened_on.isoformat(),
                    "note": self._read(a.note_enc),
                    "by": a.logged_by,
                }
                for a in activities
            ],
            "decisions": [
                {
                    "id": d.id,
                    "date": d.decided_on.isoformat(),
                    "duty": d.duty,
                    "decision": d.decision,
                    "reason": self._read(d.reason_enc),
                    "by": d.decided_by,
                }
                for d in decisions
            ],
        }


def retention_cutoff(now: datetime, years: int) -> datetime:
    """`years` before `now` (29 February falls back to the 28th)."""
    try:
        return now.replace(year=now.year - years)
    except ValueError:
        return now.replace(year=now.year - years, day=28)


async def purge_cases(db: Database, now: datetime, years: int) -> int:
    """Delete the cases closed more than `years` ago; the anonymous activity counts stay."""
    async with db.uow() as uow:
        deleted = await uow.cases.delete_closed_before(retention_cutoff(now, years))
        await uow.commit()
    return deleted
