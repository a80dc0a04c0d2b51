"""The phone line's webhooks under fuzzing: signed forms with hostile values, fields left out or added,
get an answer (TwiML or 204) or a refusal, never an error; unsigned ones are refused and change nothing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.harness import Expect, Request, Service
from tests.fuzz.test_routes_fuzz import FORM, FORM_TEXT, FUZZ, _unique, headers, signed

VOICE = "/webhooks/twilio/voice"
# "recording" is left out: for a call that exists, a recording Twilio cannot hand over is answered 503 on
# purpose (it stays at Twilio for the next try), tested in tests/channels/test_voice.py.
STEPS = ("", "/language", "/answered?staff=anna", "/dialled", "/recorded", "/consent", "/status")
FIELDS = ("CallSid", "From", "Digits", "DialCallStatus", "DialCallDuration", "RecordingSid",
          "RecordingDuration", "RecordingStatus", "CallStatus", "ParentCallSid")  # fmt: skip
SIDS = st.one_of(st.integers(0, 2**128 - 1).map(lambda n: f"CA{n:032x}"), FORM_TEXT)


@st.composite
def voice_forms(draw: st.DrawFn) -> list[tuple[str, str]]:
    params = [("CallSid", draw(SIDS))]
    params += draw(st.lists(st.tuples(st.sampled_from(FIELDS), FORM_TEXT), max_size=6))
    return _unique(draw(st.permutations(params)))


@pytest.mark.parametrize("step", STEPS)
@FUZZ
@given(params=voice_forms())
async def test_voice_steps_signed(service: Service, step: str, params: list[tuple[str, str]]) -> None:
    await service.check(signed(VOICE + step, params), Expect.EITHER)


@FUZZ
@given(params=voice_forms(), step=st.sampled_from(STEPS))
async def test_voice_steps_unsigned_are_refused(
    service: Service, params: list[tuple[str, str]], step: str
) -> None:
    from urllib.parse import urlencode

    request = Request("POST", VOICE + step, urlencode(params).encode("ascii"), headers(FORM))
    await service.check(request, Expect.REFUSED)
