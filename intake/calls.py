"""The phone line's core: what happened to each call, its voicemail, call-back consent, staff on duty.

Every step is keyed by the provider's call id (Twilio's CallSid), so a step the provider repeats changes
nothing the first one did not. The caller's number is handled like an SMS address: a pseudonym says "has
called before", the number itself is stored only encrypted and read back only to call a consenting caller.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from intake.categories import RecordChannel
from intake.messages import Contact
from intake.privacy import Keys
from intake.records import Record, parse_record
from intake.storage.models import CallRow, PhoneDutyRow, VoicemailRow
from intake.storage.uow import Database

PHONE = "phone"


class CallState(StrEnum):
    RINGING = "ringing"  # in the greeting and language menu
    DIALLING = "dialling"  # staff phones ringing
    ANSWERED = "answered"
    CLOSED = "closed"  # told the line is closed, offered to leave a message
    VOICEMAIL = "voicemail"
    MISSED = "missed"  # hung up without reaching anyone or leaving a message


class Consent(StrEnum):
    YES = "yes"
    NO = "no"
    UNKNOWN = "unknown"


# A call still in one of these when it ends was missed; the others are final.
_UNFINISHED = (CallState.RINGING, CallState.DIALLING, CallState.CLOSED)


class NoConsent(Exception):
    """A call-back was asked for a caller who did not say yes (or whose number was erased)."""


@dataclass(frozen=True)
class CallView:
    """A call as the console shows it: never the number."""

    id: int
    state: CallState
    started_at: datetime
    language: str | None
    outside_hours: bool
    answered_by: str | None
    duration_seconds: int | None
    consent: Consent
    called_before: bool
    voicemail_seconds: int | None
    categorised: bool
    called_back_by: str | None

    @property
    def can_call_back(self) -> bool:
        return self.consent is Consent.YES


@dataclass(frozen=True)
class Voicemail:
    audio: bytes
    content_type: str


def _view(call: CallRow, mail: VoicemailRow | None, called_before: bool = False) -> CallView:
    stored = mail is not None and mail.audio_enc is not None
    return CallView(
        id=call.id,
        state=CallState(call.state),
        started_at=call.started_at,
        language=call.language,
        outside_hours=call.outside_hours,
        answered_by=call.answered_by,
        duration_seconds=call.duration_seconds,
        consent=Consent(call.callback_consent),
        called_before=called_before,
        voicemail_seconds=mail.duration_seconds if stored and mail is not None else None,
        categorised=call.categorised,
        called_back_by=call.called_back_by,
    )


@dataclass
class PhoneLine:
    db: Database
    keys: Keys
    clock: Callable[[], datetime]

    def _pseudonym(self, number: str) -> str:
        return self.keys.pseudonym(Contact(PHONE, number))  # type: ignore[arg-type]

    async def arrived(self, call_sid: str, number: str, outside_hours: bool) -> CallState:
        """A call comes in; the same CallSid again returns the state reached, changing nothing."""
        async with self.db.uow() as uow:
            call = await uow.calls.by_sid(call_sid)
            if call is not None:
                return CallState(call.state)
            # A withheld number ("anonymous", "+266696687") cannot be called back: keep nothing of it.
            callable_ = number.startswith("+") and number[1:].isdigit()
            await uow.calls.add(
                CallRow(
                    call_sid=call_sid,
                    pseudonym=self._pseudonym(number) if callable_ else None,
                    number_enc=self.keys.encrypt(number) if callable_ else None,
                    state=CallState.RINGING,
                    outside_hours=outside_hours,
                    callback_consent=Consent.UNKNOWN if callable_ else Consent.NO,
                    started_at=self.clock(),
                )
            )
            await uow.commit()
        return CallState.RINGING

    async def _update(self, call_sid: str, **values: object) -> CallRow | None:
        async with self.db.uow() as uow:
            call = await uow.calls.by_sid(call_sid)
            if call is None:
                return None
            for name, value in values.items():
                setattr(call, name, value)
            await uow.commit()
            return call

    async def state(self, call_sid: str) -> CallState | None:
        async with self.db.uow() as uow:
            call = await uow.calls.by_sid(call_sid)
            return None if call is None else CallState(call.state)

    async def language(self, call_sid: str) -> str | None:
        async with self.db.uow() as uow:
            call = await uow.calls.by_sid(call_sid)
            return None if call is None else call.language

    async def chose_language(self, call_sid: str, language: str) -> None:
        await self._update(call_sid, language=language)

    async def dialling(self, call_sid: str) -> None:
        await self._advance(call_sid, CallState.DIALLING, (CallState.RINGING,))

    async def closed(self, call_sid: str) -> None:
        await self._advance(call_sid, CallState.CLOSED, (CallState.RINGING, CallState.DIALLING))

    async def _advance(self, call_sid: str, to: CallState, from_: tuple[CallState, ...]) -> bool:
        """Moves forward only: a late or repeated step never takes a call back to an earlier state."""
        async with self.db.uow() as uow:
            call = await uow.calls.by_sid(call_sid)
            if call is None or CallState(call.state) not in from_:
                return False
            call.state = to
            await uow.commit()
            return True

    async def answered(self, call_sid: str, staff_name: str) -> None:
        async with self.db.uow() as uow:
            call = await uow.calls.by_sid(call_sid)
            if call is None or call.answered_by is not None:
                return
            call.answered_by = staff_name
            call.state = CallState.ANSWERED
            await uow.commit()

    async def talked(self, call_sid: str, seconds: int) -> None:
        """The staff leg ended: how long they talked."""
        await self._update(call_sid, duration_seconds=max(0, seconds))

    async def ended(self, call_sid: str) -> None:
        async with self.db.uow() as uow:
            call = await uow.calls.by_sid(call_sid)
            if call is None or call.ended_at is not None:
                return
            call.ended_at = self.clock()
            if CallState(call.state) in _UNFINISHED:
                call.state = CallState.MISSED
            await uow.commit()

    async def recorded(self, call_sid: str, recording_sid: str, seconds: int) -> bool:
        """A message was left (its audio still at the provider). False when already known."""
        async with self.db.uow() as uow:
            call = await uow.calls.by_sid(call_sid)
            if call is None or await uow.calls.voicemail_by_recording(recording_sid) is not None:
                return False
            if await uow.calls.voicemail(call.id) is not None:
                return False
            call.state = CallState.VOICEMAIL
            uow.calls.add_voicemail(
                VoicemailRow(call_id=call.id, recording_sid=recording_sid, duration_seconds=max(0, seconds))
            )
            await uow.commit()
            return True

    async def awaiting_download(self, recording_sid: str) -> bool:
        async with self.db.uow() as uow:
            mail = await uow.calls.voicemail_by_recording(recording_sid)
            return mail is not None and mail.audio_enc is None

    async def store_voicemail(self, recording_sid: str, audio: bytes, content_type: str) -> bool:
        async with self.db.uow() as uow:
            mail = await uow.calls.voicemail_by_recording(recording_sid)
            if mail is None or mail.audio_enc is not None:
                return False
            mail.audio_enc = self.keys.seal(audio)
            mail.content_type = content_type[:32]
            mail.stored_at = self.clock()
            await uow.commit()
            return True

    async def consent(self, call_sid: str, yes: bool) -> bool:
        """Stores the caller's answer; True only when a call-back is now possible (what may be promised)."""
        async with self.db.uow() as uow:
            call = await uow.calls.by_sid(call_sid)
            # No number kept (withheld or erased): nobody can call back, whatever the answer.
            if call is None or call.number_enc is None:
                return False
            call.callback_consent = Consent.YES if yes else Consent.NO
            await uow.commit()
            return yes

    async def has_number(self, call_sid: str) -> bool:
        """Whether a call-back could reach this caller at all (a withheld number cannot be called)."""
        async with self.db.uow() as uow:
            call = await uow.calls.by_sid(call_sid)
            return call is not None and call.number_enc is not None

    async def listing(self, limit: int = 200) -> list[CallView]:
        async with self.db.uow() as uow:
            rows = await uow.calls.listing(limit)
            views = []
            for call, mail in rows:
                before = call.pseudonym is not None and await uow.calls.called_before(
                    call.pseudonym, call.started_at
                )
                views.append(_view(call, mail, before))
            return views

    async def call(self, call_id: int) -> CallView | None:
        async with self.db.uow() as uow:
            call = await uow.calls.get(call_id)
            if call is None:
                return None
            return _view(call, await uow.calls.voicemail(call_id))

    async def voicemail(self, call_id: int) -> Voicemail | None:
        async with self.db.uow() as uow:
            mail = await uow.calls.voicemail(call_id)
            if mail is None or mail.audio_enc is None:
                return None
            audio = self.keys.unseal(mail.audio_enc)
            return None if audio is None else Voicemail(audio, mail.content_type)

    async def call_back_number(self, call_id: int, staff_name: str) -> str:
        """The consenting caller's number, for the provider to connect; marks who called back."""
        async with self.db.uow() as uow:
            call = await uow.calls.get(call_id)
            if call is None or call.number_enc is None or call.callback_consent != Consent.YES:
                raise NoConsent
            number = self.keys.decrypt(call.number_enc)
            call.called_back_by = staff_name
            await uow.commit()
            return number

    async def categorise(self, call_id: int, data: Mapping[str, object]) -> Record:
        """Staff's categories for the call become one anonymous record with channel phone (RecordError
        names a bad field); a call is counted once."""
        record = parse_record({**data, "channel": RecordChannel.PHONE}, self.clock().date())
        async with self.db.uow() as uow:
            call = await uow.calls.get(call_id)
            if call is None or call.categorised:
                raise LookupError("no such call, or already categorised")
            month = call.started_at.strftime("%Y-%m")
            record = replace(record, month=month)
            await uow.stats.add_many([{**record.columns(), "outside_hours": call.outside_hours}])
            call.categorised = True
            await uow.commit()
        return record

    async def erase(self, call_id: int) -> bool:
        """On request: the voicemail and the number (and its pseudonym) go."""
        async with self.db.uow() as uow:
            erased = await uow.calls.erase(call_id)
            await uow.commit()
        await self.db.after_erasure()
        return erased

    async def purge(self, now: datetime, retention_days: int) -> int:
        async with self.db.uow() as uow:
            gone = await uow.calls.delete_started_before(now - timedelta(days=retention_days))
            await uow.commit()
        if gone:
            await self.db.after_erasure()
        return gone

    async def set_duty(self, staff_name: str, number: str | None, on_duty: bool) -> None:
        """Marks a staff member on or off phone duty; a number given replaces the stored one."""
        async with self.db.uow() as uow:
            row = await uow.phone_duty.get(staff_name)
            if row is None:
                if number is None:
                    raise ValueError("a phone number is needed to go on duty")
                row = PhoneDutyRow(staff_name=staff_name, number_enc=self.keys.encrypt(number))
                uow.phone_duty.add(row)
            elif number is not None:
                row.number_enc = self.keys.encrypt(number)
            row.on_duty = on_duty
            row.updated_at = self.clock()
            await uow.commit()

    async def duty_of(self, staff_name: str) -> tuple[bool, bool]:
        """(on duty, has a number) for the console."""
        async with self.db.uow() as uow:
            row = await uow.phone_duty.get(staff_name)
            return (False, False) if row is None else (row.on_duty, True)

    async def on_duty(self) -> list[tuple[str, str]]:
        """(staff name, phone number) of everyone on duty, to ring at once."""
        async with self.db.uow() as uow:
            return [
                (row.staff_name, self.keys.decrypt(row.number_enc)) for row in await uow.phone_duty.on_duty()
            ]

    async def staff_number(self, staff_name: str) -> str | None:
        async with self.db.uow() as uow:
            row = await uow.phone_duty.get(staff_name)
            return None if row is None else self.keys.decrypt(row.number_enc)
