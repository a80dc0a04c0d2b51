"""The phone line's core on SQLite and PostgreSQL: steps keyed by CallSid, encrypted number and voicemail,
consent before a call-back, erasure, retention and the anonymous record."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from intake.calls import CallState, Consent, NoConsent, PhoneLine
from intake.privacy import Keys
from intake.retention import purge
from intake.storage.db import make_database
from intake.storage.models import CallRow, StatRecordRow, VoicemailRow
from tests.integration.conftest import SECRET, Clock

NUMBER = "+4791234567"
AUDIO = b"ID3 fake mp3 audio of a voicemail"


@pytest.fixture
def line(engine: AsyncEngine) -> PhoneLine:
    keys = Keys.from_secret(SECRET)
    return PhoneLine(make_database(engine, keys), keys, Clock())


async def _rows(line: PhoneLine) -> tuple[list[CallRow], list[VoicemailRow]]:
    async with line.db.uow() as uow:
        calls = list((await uow.session.execute(select(CallRow))).scalars())
        mails = list((await uow.session.execute(select(VoicemailRow))).scalars())
        return calls, mails


async def test_a_repeated_arrival_changes_nothing_and_the_number_is_only_encrypted(line: PhoneLine) -> None:
    assert await line.arrived("CA1", NUMBER, outside_hours=False) is CallState.RINGING
    await line.dialling("CA1")
    assert await line.arrived("CA1", NUMBER, outside_hours=False) is CallState.DIALLING
    await line.dialling("CA1")  # repeated
    calls, _ = await _rows(line)
    assert len(calls) == 1
    assert calls[0].number_enc is not None
    assert NUMBER.encode() not in calls[0].number_enc
    assert calls[0].pseudonym is not None
    assert NUMBER not in calls[0].pseudonym


async def test_answered_call_keeps_who_and_how_long_and_a_late_end_does_not_make_it_missed(
    line: PhoneLine,
) -> None:
    await line.arrived("CA1", NUMBER, outside_hours=False)
    await line.dialling("CA1")
    await line.answered("CA1", "kari")
    await line.answered("CA1", "ola")  # the second phone picking up late changes nothing
    await line.talked("CA1", 125)
    await line.ended("CA1")
    (view,) = await line.listing()
    assert (view.state, view.answered_by, view.duration_seconds) == (CallState.ANSWERED, "kari", 125)
    assert not view.can_call_back


async def test_unanswered_call_is_missed(line: PhoneLine) -> None:
    await line.arrived("CA1", NUMBER, outside_hours=False)
    await line.dialling("CA1")
    await line.ended("CA1")
    (view,) = await line.listing()
    assert view.state is CallState.MISSED


async def test_voicemail_is_stored_encrypted_and_call_back_needs_a_yes(line: PhoneLine) -> None:
    await line.arrived("CA1", NUMBER, outside_hours=True)
    await line.closed("CA1")
    assert await line.recorded("CA1", "RE1", 42)
    assert not await line.recorded("CA1", "RE1", 42)  # repeated callback
    assert await line.awaiting_download("RE1")
    assert await line.store_voicemail("RE1", AUDIO, "audio/mpeg")
    assert not await line.store_voicemail("RE1", b"other", "audio/mpeg")
    await line.ended("CA1")
    _, mails = await _rows(line)
    assert mails[0].audio_enc is not None
    assert AUDIO not in mails[0].audio_enc
    (view,) = await line.listing()
    assert (view.state, view.voicemail_seconds, view.consent) == (CallState.VOICEMAIL, 42, Consent.UNKNOWN)
    voicemail = await line.voicemail(view.id)
    assert voicemail is not None
    assert voicemail.audio == AUDIO
    with pytest.raises(NoConsent):
        await line.call_back_number(view.id, "kari")
    await line.consent("CA1", yes=False)
    with pytest.raises(NoConsent):
        await line.call_back_number(view.id, "kari")
    await line.consent("CA1", yes=True)
    assert await line.call_back_number(view.id, "kari") == NUMBER


async def test_erasure_deletes_the_voicemail_and_the_number(line: PhoneLine) -> None:
    await line.arrived("CA1", NUMBER, outside_hours=True)
    await line.recorded("CA1", "RE1", 10)
    await line.store_voicemail("RE1", AUDIO, "audio/mpeg")
    await line.consent("CA1", yes=True)
    (view,) = await line.listing()
    assert await line.erase(view.id)
    calls, mails = await _rows(line)
    assert mails == []
    assert (calls[0].number_enc, calls[0].pseudonym) == (None, None)
    with pytest.raises(NoConsent):
        await line.call_back_number(view.id, "kari")


async def test_withheld_number_keeps_nothing_and_cannot_be_called_back(line: PhoneLine) -> None:
    await line.arrived("CA1", "anonymous", outside_hours=True)
    await line.consent("CA1", yes=True)
    (view,) = await line.listing()
    assert view.consent is Consent.NO


async def test_retention_deletes_old_calls_with_their_voicemail(line: PhoneLine) -> None:
    await line.arrived("CA1", NUMBER, outside_hours=True)
    await line.recorded("CA1", "RE1", 10)
    await line.store_voicemail("RE1", AUDIO, "audio/mpeg")
    clock = line.clock
    assert isinstance(clock, Clock)
    assert await line.purge(clock.advance(days=29), 30) == 0
    assert await line.purge(clock.advance(days=2), 30) == 1
    assert await _rows(line) == ([], [])


async def test_categorising_makes_one_anonymous_phone_record(line: PhoneLine) -> None:
    await line.arrived("CA1", NUMBER, outside_hours=True)
    (view,) = await line.listing()
    await line.categorise(view.id, {"role": "self", "topics": ["forced_marriage"]})
    with pytest.raises(LookupError):
        await line.categorise(view.id, {"role": "self"})
    async with line.db.uow() as uow:
        (record,) = (await uow.session.execute(select(StatRecordRow))).scalars()
    assert (record.channel, record.role, record.outside_hours) == ("phone", "self", True)


async def test_on_duty_numbers_are_encrypted_and_listed_only_while_on_duty(line: PhoneLine) -> None:
    await line.set_duty("kari", "+4790000001", True)
    await line.set_duty("ola", "+4790000002", True)
    await line.set_duty("per", "+4790000003", False)
    assert await line.on_duty() == [("kari", "+4790000001"), ("ola", "+4790000002")]
    await line.set_duty("ola", None, False)
    assert await line.on_duty() == [("kari", "+4790000001")]
    assert await line.duty_of("ola") == (False, True)


async def test_the_retention_job_deletes_old_calls_too(line: PhoneLine) -> None:
    await line.arrived("CA1", NUMBER, outside_hours=True)
    await line.recorded("CA1", "RE1", 10)
    await line.store_voicemail("RE1", AUDIO, "audio/mpeg")
    clock = line.clock
    assert isinstance(clock, Clock)
    await purge(line.db, clock.advance(days=29), retention_days=30)
    assert len((await _rows(line))[0]) == 1
    await purge(line.db, clock.advance(days=2), retention_days=30)
    assert await _rows(line) == ([], [])
