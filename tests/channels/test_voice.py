"""The phone line end to end: signed Twilio Voice webhooks into the real app (SQLite and PostgreSQL), the
recordings and call-backs through a local fake of Twilio's REST API. Every TwiML answer is parsed as XML.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol
from urllib.parse import urlencode

import pytest
from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient
from pytest_aiohttp import AiohttpClient, AiohttpServer
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

from bots.app import VOICE, WIRING, make_app
from bots.channels.voice import NoConsent, VoiceChannel
from intake.calls import CallState, Consent, PhoneLine
from intake.config import ConfigError, load_settings
from intake.phone_texts import PROMPTS
from intake.storage.models import CallRow, VoicemailRow
from tests.channels.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, FakeTwilio, twilio_signature
from tests.console.staff_client import PASSWORD, Staff

ROOT = Path(__file__).resolve().parents[2]
ALWAYS_OPEN = ROOT / "deploy" / "config" / "always-open.toml"
ALWAYS_CLOSED = ROOT / "deploy" / "config" / "always-closed.toml"
PUBLIC_URL = "https://public.example"
LINE = "+4722000000"
CALLER = "+4791234567"
KARI, OLA = "+4790000001", "+4790000002"
VOICE_PATH = "/webhooks/twilio/voice"
AUDIO = b"ID3\x03\x00 a fake voicemail in mp3"

pytestmark = pytest.mark.filterwarnings(
    "ignore:BasicAuth is deprecated:DeprecationWarning",
    "ignore:The 'auth' parameter is deprecated:DeprecationWarning",
)
Params = list[tuple[str, str]]


@dataclass
class Phone:
    client: TestClient[web.Request, web.Application]
    fake: FakeTwilio

    @property
    def voice(self) -> VoiceChannel:
        return self.client.app[VOICE]

    @property
    def line(self) -> PhoneLine:
        assert self.voice.line is not None
        return self.voice.line

    async def post(self, step: str, params: Params, signature: str | None = None) -> ClientResponse:
        path = VOICE_PATH + (f"/{step}" if step else "")
        sign = signature if signature is not None else twilio_signature(AUTH_TOKEN, PUBLIC_URL + path, params)
        headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": sign}
        return await self.client.post(path, data=urlencode(params), headers=headers)

    async def twiml(self, step: str, params: Params) -> ET.Element:
        response = await self.post(step, params)
        assert response.status == 200, await response.text()
        assert response.content_type == "text/xml"
        root = ET.fromstring(await response.text())  # noqa: S314 (our own answer, or our own call-back TwiML)
        assert root.tag == "Response"
        return root

    async def calls(self) -> int:
        async with self.line.db.uow() as uow:
            return int((await uow.session.execute(select(func.count()).select_from(CallRow))).scalar_one())


class Start(Protocol):
    async def __call__(self, config: Path, clock: Callable[[], datetime] | None = None) -> Phone: ...


@pytest.fixture
async def start(database_url: str, aiohttp_server: AiohttpServer, aiohttp_client: AiohttpClient) -> Start:
    fake = FakeTwilio()
    server = await aiohttp_server(fake.app)

    async def go(config: Path, clock: Callable[[], datetime] | None = None) -> Phone:
        env = {
            "HELPLINE_ENV": "production",
            "HELPLINE_SECRET_KEY": "MDAqrmsoswGljZORB45t9X3L2oVVDt7TGFiZ3gfOf3w",
            "HELPLINE_DATABASE_URL": database_url,
            "HELPLINE_CONFIG": str(config),
            "HELPLINE_PUBLIC_URL": PUBLIC_URL,
            "HELPLINE_TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "HELPLINE_TWILIO_AUTH_TOKEN": AUTH_TOKEN,
            "HELPLINE_TWILIO_VOICE_NUMBER": LINE,
            "HELPLINE_TWILIO_API_URL": str(server.make_url("")).rstrip("/"),
        }
        client = await aiohttp_client(make_app(load_settings(env), run_outbox=False, clock=clock))
        assert client.app[WIRING]
        return Phone(client, fake)

    return go


def call(sid: str = "CA" + "1" * 32, **extra: str) -> Params:
    return [("CallSid", sid), ("AccountSid", ACCOUNT_SID), ("From", CALLER), ("To", LINE), *extra.items()]


def says(root: ET.Element) -> str:
    return " ".join(el.text or "" for el in root.iter("Say"))


def test_signatures_are_twilios_algorithm() -> None:
    params = call(Digits="1")
    url = PUBLIC_URL + VOICE_PATH + "/answered?staff=kari"
    assert twilio_signature(AUTH_TOKEN, url, params) == RequestValidator(AUTH_TOKEN).compute_signature(
        url, dict(params)
    )


async def test_in_hours_the_call_rings_every_staff_phone_on_duty(start: Start) -> None:
    phone = await start(ALWAYS_OPEN)
    await phone.line.set_duty("kari", KARI, True)
    await phone.line.set_duty("ola", OLA, True)
    await phone.line.set_duty("per", "+4790000003", False)
    welcome = await phone.twiml("", call())
    assert "112" in says(welcome)
    gather = welcome.find("Gather")
    assert gather is not None
    assert gather.get("numDigits") == "1"
    menu = [el.text or "" for el in gather.iter("Say")]
    assert any("Norsk" in text for text in menu)
    assert any("English" in text for text in menu)
    assert {el.get("voice") for el in welcome.iter("Say")} >= {"Polly.Liv", "Polly.Amy"}
    assert welcome.find("Redirect") is not None

    ring = await phone.twiml("language", call(Digits="1"))
    dial = ring.find("Dial")
    assert dial is not None
    assert dial.get("callerId") == LINE
    assert dial.get("timeout") == "20"
    numbers = dial.findall("Number")
    assert [n.text for n in numbers] == [KARI, OLA]
    assert CALLER not in ET.tostring(ring, encoding="unicode")

    child = [("CallSid", "CA" + "2" * 32), ("ParentCallSid", "CA" + "1" * 32), ("To", KARI)]
    path = "answered?staff=kari"
    assert numbers[0].get("url") == PUBLIC_URL + VOICE_PATH + "/" + path
    whisper = await phone.twiml(path, child)
    assert list(whisper) == []
    done = await phone.twiml("dialled", call(DialCallStatus="completed", DialCallDuration="95"))
    assert done.find("Hangup") is not None
    assert (await phone.post("status", call(CallStatus="completed"))).status == 204
    (view,) = await phone.line.listing()
    assert (view.state, view.answered_by, view.duration_seconds) == (CallState.ANSWERED, "kari", 95)


async def test_in_hours_with_nobody_on_duty_the_caller_hears_closed(start: Start) -> None:
    phone = await start(ALWAYS_OPEN)
    await phone.twiml("", call())
    closed = await phone.twiml("language", call(Digits="1"))
    assert closed.find("Dial") is None
    assert closed.find("Record") is not None
    assert "112" in says(closed)
    assert "113" in says(closed)
    # Within hours with nobody free, "open again <now>" would be absurd: no opening time is spoken.
    assert "åpen igjen" not in says(closed)


async def test_out_of_hours_a_message_is_downloaded_deleted_at_twilio_and_called_back_only_with_a_yes(
    start: Start,
) -> None:
    phone = await start(ALWAYS_CLOSED)
    await phone.line.set_duty("kari", KARI, True)  # on duty, but the line is closed
    await phone.twiml("", call())
    closed = await phone.twiml("language", call(Digits="2"))
    spoken = says(closed)
    assert "112" in spoken
    assert "113" in spoken
    assert "116 111" in spoken
    record = closed.find("Record")
    assert record is not None
    assert closed.find("Dial") is None
    assert record.get("maxLength") == "180"
    assert record.get("transcribe") == "false"
    assert record.get("recordingStatusCallback") == PUBLIC_URL + VOICE_PATH + "/recording"

    phone.fake.recordings["RE1"] = AUDIO
    recorded = call(RecordingSid="RE1", RecordingDuration="31", RecordingStatus="completed")
    ask = await phone.twiml("recorded", recorded)
    gather = ask.find("Gather")
    assert gather is not None
    assert "1" in says(gather)
    assert "2" in says(gather)
    assert ask.find("Hangup") is not None  # no answer is a no
    assert (await phone.post("recording", recorded)).status == 204
    assert phone.fake.deleted == ["RE1"]
    assert phone.fake.recordings == {}
    assert (await phone.post("recording", recorded)).status == 204  # repeated: nothing fetched again
    assert (await phone.post("status", call(CallStatus="completed"))).status == 204

    (view,) = await phone.line.listing()
    assert (view.state, view.voicemail_seconds, view.consent) == (CallState.VOICEMAIL, 31, Consent.UNKNOWN)
    voicemail = await phone.line.voicemail(view.id)
    assert voicemail is not None
    assert voicemail.audio == AUDIO
    async with phone.line.db.uow() as uow:
        (mail,) = (await uow.session.execute(select(VoicemailRow))).scalars()
        assert mail.audio_enc is not None
        assert AUDIO not in mail.audio_enc

    with pytest.raises(NoConsent):
        await phone.voice.call_back(view.id, "kari")
    assert phone.fake.placed == []

    bye = await phone.twiml("consent", call(Digits="1"))
    assert bye.find("Hangup") is not None
    await phone.voice.call_back(view.id, "kari")
    (placed,) = phone.fake.placed
    assert (placed["To"], placed["From"]) == (KARI, LINE)
    connect = ET.fromstring(placed["Twiml"])  # noqa: S314 (our own answer, or our own call-back TwiML)
    dial = connect.find("Dial")
    assert dial is not None
    assert dial.get("callerId") == LINE
    assert [n.text for n in dial.findall("Number")] == [CALLER]


async def test_a_caller_who_says_no_is_never_called_back(start: Start) -> None:
    phone = await start(ALWAYS_CLOSED)
    await phone.line.set_duty("kari", KARI, True)
    await phone.twiml("", call())
    await phone.twiml("consent", call(Digits="2"))
    (view,) = await phone.line.listing()
    assert view.consent is Consent.NO
    with pytest.raises(NoConsent):
        await phone.voice.call_back(view.id, "kari")
    assert phone.fake.placed == []


@pytest.mark.parametrize("signature", ["", "d3Jvbmcgc2lnbmF0dXJl"])
async def test_unsigned_or_wrongly_signed_is_refused_and_changes_nothing(
    start: Start, signature: str
) -> None:
    phone = await start(ALWAYS_OPEN)
    for step in ("", "language", "recording", "consent", "status"):
        response = await phone.post(step, call(Digits="1"), signature=signature)
        assert response.status == 403
    assert await phone.calls() == 0


async def test_a_repeated_step_answers_the_same_and_stores_once(start: Start) -> None:
    phone = await start(ALWAYS_OPEN)
    await phone.line.set_duty("kari", KARI, True)
    first = await phone.twiml("", call())
    again = await phone.twiml("", call())
    assert ET.tostring(first) == ET.tostring(again)
    ring = await phone.twiml("language", call(Digits="1"))
    ring_again = await phone.twiml("language", call(Digits="1"))
    assert ET.tostring(ring) == ET.tostring(ring_again)
    assert await phone.calls() == 1
    (view,) = await phone.line.listing()
    assert view.state is CallState.DIALLING


async def test_console_lists_calls_plays_voicemail_to_staff_only_audited_and_calls_back_with_consent(
    start: Start,
) -> None:
    phone = await start(ALWAYS_CLOSED)
    accounts = phone.client.app[WIRING].accounts
    await accounts.add("kari", PASSWORD)
    kari = await Staff(phone.client, "kari").sign_in()
    assert (await kari.post("phone-duty", {"number": "90000001", "on_duty": True})).status == 400
    assert (await kari.post("phone-duty", {"number": KARI, "on_duty": True})).status == 200

    await phone.twiml("", call())
    await phone.twiml("language", call(Digits="1"))
    phone.fake.recordings["RE1"] = AUDIO
    recorded = call(RecordingSid="RE1", RecordingDuration="12", RecordingStatus="completed")
    await phone.twiml("recorded", recorded)
    assert (await phone.post("recording", recorded)).status == 204

    (listed,) = (await kari.read("calls"))["calls"]
    assert (listed["state"], listed["voicemail_seconds"], listed["consent"]) == ("voicemail", 12, "unknown")
    assert CALLER not in json.dumps(listed)
    page = await phone.client.get("/staff/calls", headers=kari.cookies())
    assert page.status == 200
    html = await page.text()
    assert f'src="/staff/api/calls/{listed["id"]}/voicemail"' in html
    assert CALLER not in html
    assert "call-back" not in html.split('id="call-list"')[1]  # no call-back button without consent

    anonymous = await phone.client.get(f"/staff/api/calls/{listed['id']}/voicemail")
    assert anonymous.status == 401
    played = await kari.get(f"calls/{listed['id']}/voicemail")
    assert played.status == 200
    assert await played.read() == AUDIO
    log = await accounts.audit_log()
    plays = [(row.staff_name, row.conversation_id) for row in log if row.action == "play_voicemail"]
    assert plays == [("kari", f"call-{listed['id']}")]

    refused = await kari.post(f"calls/{listed['id']}/call-back")
    assert refused.status == 409
    assert phone.fake.placed == []
    await phone.twiml("consent", call(Digits="1"))
    placed = await kari.post(f"calls/{listed['id']}/call-back")
    assert placed.status == 200, await placed.text()
    assert [p["To"] for p in phone.fake.placed] == [KARI]

    category = await kari.post(f"calls/{listed['id']}/category", {"role": "self", "age_group": "under_18"})
    assert category.status == 201, await category.text()
    assert (await kari.post(f"calls/{listed['id']}/erase")).status == 200
    assert (await kari.get(f"calls/{listed['id']}/voicemail")).status == 404
    (after,) = (await kari.read("calls"))["calls"]
    assert (after["consent"], after["voicemail_seconds"], after["categorised"]) == ("no", None, True)


async def test_a_voice_only_account_leaves_sms_off_and_bad_voice_settings_are_named(
    database_url: str,
) -> None:
    env = {
        "HELPLINE_ENV": "production",
        "HELPLINE_SECRET_KEY": "MDAqrmsoswGljZORB45t9X3L2oVVDt7TGFiZ3gfOf3w",
        "HELPLINE_DATABASE_URL": database_url,
        "HELPLINE_PUBLIC_URL": PUBLIC_URL,
        "HELPLINE_TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "HELPLINE_TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "HELPLINE_TWILIO_VOICE_NUMBER": LINE,
    }
    app = make_app(load_settings(env), run_outbox=False)
    paths = {resource.canonical for resource in app.router.resources()}
    assert VOICE_PATH in paths
    assert "/webhooks/twilio/sms" not in paths
    with pytest.raises(ConfigError, match="HELPLINE_TWILIO_VOICE_NUMBER"):
        make_app(load_settings({**env, "HELPLINE_TWILIO_VOICE_NUMBER": "22000000"}), run_outbox=False)


@pytest.mark.parametrize(
    ("step", "params", "status"),
    [
        ("", [("From", CALLER)], 400),  # no CallSid
        ("", [("CallSid", "CA 1"), ("From", CALLER)], 400),
        ("language", call(Digits="99"), 200),  # no such call yet: hang up
        ("dialled", call(DialCallStatus="completed", DialCallDuration="x" * 40), 200),
        ("recorded", call(RecordingSid="../x", RecordingDuration="-1"), 200),
        ("recording", call(RecordingSid="RE9", RecordingStatus="completed"), 204),  # an unknown call
        ("consent", call(Digits="1#"), 200),
        ("answered", call(ParentCallSid=""), 200),
    ],
)
async def test_odd_but_signed_steps_get_a_clear_answer(
    start: Start, step: str, params: Params, status: int
) -> None:
    phone = await start(ALWAYS_CLOSED)
    response = await phone.post(step, params)
    assert response.status == status, await response.text()
    if status == 200:
        ET.fromstring(await response.text())  # noqa: S314 (our own answer)


async def test_a_failed_download_keeps_the_recording_at_twilio_for_the_next_try(start: Start) -> None:
    phone = await start(ALWAYS_CLOSED)
    await phone.twiml("", call())
    recorded = call(RecordingSid="RE1", RecordingDuration="20", RecordingStatus="completed")
    assert (await phone.post("recording", recorded)).status == 503  # not downloadable yet
    assert phone.fake.deleted == []
    phone.fake.recordings["RE1"] = AUDIO
    assert (await phone.post("recording", recorded)).status == 204
    assert phone.fake.deleted == ["RE1"]
    (view,) = await phone.line.listing()
    voicemail = await phone.line.voicemail(view.id)
    assert voicemail is not None
    assert voicemail.audio == AUDIO


async def test_a_language_with_recorded_prompts_is_played_and_one_with_neither_is_left_out(
    start: Start, tmp_path: Path
) -> None:
    folder = tmp_path / "prompts"
    for prompt in PROMPTS:
        (folder / "so").mkdir(parents=True, exist_ok=True)
        (folder / "so" / f"{prompt}.mp3").write_bytes(b"ID3 " + prompt.encode())
    (folder / "ti").mkdir()
    (folder / "ti" / "greeting.mp3").write_bytes(b"ID3 only one")  # incomplete: not offered
    config = tmp_path / "voice.toml"
    config.write_text(
        ALWAYS_OPEN.read_text("utf-8") + f'\n[voice]\nrecordings_dir = "{folder}"\nring_timeout = 15\n',
        encoding="utf-8",
    )
    phone = await start(config)
    welcome = await phone.twiml("", call())
    gather = welcome.find("Gather")
    assert gather is not None
    played = [el.text or "" for el in gather.iter("Play")]
    assert played == [PUBLIC_URL + "/webhooks/twilio/voice/audio/so/menu.mp3"]
    spoken = " ".join(el.text or "" for el in gather.iter("Say"))
    assert "ትግርኛ" not in spoken  # Tigrinya: no voice, prompts not all recorded
    digit = 1 + [el.tag for el in gather if el.tag in ("Say", "Play")].index("Play")
    await phone.line.set_duty("kari", KARI, True)
    ring = await phone.twiml("language", call(Digits=str(digit)))
    assert [el.text for el in ring.iter("Play")] == [
        PUBLIC_URL + "/webhooks/twilio/voice/audio/so/connecting.mp3"
    ]
    dial = ring.find("Dial")
    assert dial is not None
    assert dial.get("timeout") == "15"
    audio = await phone.client.get("/webhooks/twilio/voice/audio/so/connecting.mp3")
    assert audio.status == 200
    assert await audio.read() == b"ID3 connecting"
    assert (await phone.client.get("/webhooks/twilio/voice/audio/so/..%2Fx.mp3")).status == 404


async def test_a_withheld_number_is_never_promised_a_call_back(start: Start) -> None:
    phone = await start(ALWAYS_CLOSED)
    withheld = [(name, "anonymous" if name == "From" else value) for name, value in call()]
    await phone.twiml("", withheld)
    await phone.twiml("language", [*withheld, ("Digits", "2")])  # English
    after = await phone.twiml("recorded", [*withheld, ("RecordingSid", "RE1"), ("RecordingDuration", "9")])
    assert after.find("Gather") is None
    assert "will not call you back" in says(after)
    bye = await phone.twiml("consent", [*withheld, ("Digits", "1")])  # a late or forged "yes"
    assert "will not call you back" in says(bye)
    assert "may call you back" not in says(bye)


async def test_out_of_hours_the_next_opening_is_spoken(start: Start, tmp_path: Path) -> None:
    config = tmp_path / "published-hours.toml"
    config.write_text("", encoding="utf-8")  # the published hours: Monday to Friday 09:00-16:00
    saturday = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
    phone = await start(config, clock=lambda: saturday)
    await phone.twiml("", call())
    closed = await phone.twiml("language", call(Digits="2"))  # English
    assert "The phone is open again Monday 9:00" in says(closed)
