"""The phone line's webhooks: a call comes in, each next step, the recording and status callbacks.

Every request is checked with twilio's RequestValidator against the URL as Twilio called it (the public
base URL + the raw path): unsigned or wrongly signed is 403 and changes nothing. Each step is keyed by
the CallSid in the core, so a step Twilio repeats answers the same and stores nothing twice. The caller's
number is never logged.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import datetime
from urllib.parse import parse_qsl

from aiohttp import web
from multidict import MultiDict
from twilio.request_validator import RequestValidator

from bots.channels.voice.rest import TwilioVoiceApi
from bots.channels.voice.settings import VoiceSettings
from bots.channels.voice.twiml import AUDIO_PATH, STEP_PATH, Answers
from intake.calls import CallState, PhoneLine
from intake.hours import OpeningHours

log = logging.getLogger(__name__)

INCOMING_PATH = "/webhooks/twilio/voice"
PHONE = "phone"
MAX_FORM_BYTES = 64 * 1024
_SID = re.compile(r"[A-Za-z0-9]{2,64}")
_AUDIO_NAME = re.compile(r"[a-z_]{1,32}\.mp3")
_LANG = re.compile(r"[a-zA-Z_]{2,8}")


def twiml(text: str) -> web.Response:
    return web.Response(text=text, content_type="text/xml")


class VoiceWebhooks:
    def __init__(self, settings: VoiceSettings, api: TwilioVoiceApi) -> None:
        self.settings = settings
        self.api = api
        self.validator = RequestValidator(settings.auth_token)
        self.answers: Answers | None = None
        self.line: PhoneLine | None = None
        self.hours: OpeningHours | None = None
        self.clock: Callable[[], datetime] | None = None

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post(INCOMING_PATH, self.incoming)
        app.router.add_get(AUDIO_PATH + "/{lang}/{name}", self.audio)
        steps = {
            "language": self.language,
            "answered": self.answered,
            "dialled": self.dialled,
            "recorded": self.recorded,
            "recording": self.recording,
            "consent": self.consent,
            "status": self.status,
        }
        for step, handler in steps.items():
            app.router.add_post(STEP_PATH + step, handler)

    def _ready(self) -> tuple[Answers, PhoneLine, OpeningHours, Callable[[], datetime]]:
        if self.answers is None or self.line is None or self.hours is None or self.clock is None:
            raise web.HTTPServiceUnavailable(text="the phone line is starting")
        return self.answers, self.line, self.hours, self.clock

    async def signed(self, request: web.Request) -> tuple[MultiDict[str], str]:
        """The signed form and its CallSid; 403 unsigned or wrongly signed, 400 malformed."""
        signature = request.headers.get("X-Twilio-Signature", "")
        if not signature:
            raise web.HTTPForbidden(text="missing signature")
        if request.content_length is not None and request.content_length > MAX_FORM_BYTES:
            raise web.HTTPRequestEntityTooLarge(max_size=MAX_FORM_BYTES, actual_size=request.content_length)
        raw = await request.read()
        if len(raw) > MAX_FORM_BYTES:
            raise web.HTTPRequestEntityTooLarge(max_size=MAX_FORM_BYTES, actual_size=len(raw))
        try:
            form = MultiDict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True, errors="strict"))
        except ValueError:
            raise web.HTTPBadRequest(text="malformed form") from None
        if not self.validator.validate(self.settings.public_url + request.raw_path, form, signature):
            log.warning("rejected a Twilio voice webhook with a wrong signature on %s", request.path)
            raise web.HTTPForbidden(text="wrong signature")
        sid = form.get("CallSid", "")
        if not _SID.fullmatch(sid):
            raise web.HTTPBadRequest(text="CallSid is required")
        return form, sid

    async def incoming(self, request: web.Request) -> web.Response:
        form, sid = await self.signed(request)
        answers, line, hours, clock = self._ready()
        now = clock()
        await line.arrived(sid, form.get("From", "")[:32], outside_hours=not hours.is_open(now, PHONE))
        return twiml(answers.welcome())

    async def language(self, request: web.Request) -> web.Response:
        form, sid = await self.signed(request)
        answers, line, hours, clock = self._ready()
        state = await line.state(sid)
        if state is None:
            return twiml(answers.hangup())
        lang = answers.language_of(form.get("Digits", ""))
        await line.chose_language(sid, lang)
        now = clock()
        staff = await line.on_duty() if hours.is_open(now, PHONE) else []
        if staff and state in (CallState.RINGING, CallState.DIALLING):
            await line.dialling(sid)
            return twiml(answers.ring(lang, staff))
        await line.closed(sid)
        return twiml(answers.closed(lang, _opens(hours, now), now, hours.timezone))

    async def answered(self, request: web.Request) -> web.Response:
        """A staff phone picked up (the <Number url>, on the staff leg): who answered the caller."""
        form, _child = await self.signed(request)
        _answers, line, _hours, _clock = self._ready()
        parent = form.get("ParentCallSid", "")
        staff = request.query.get("staff", "")[:64]
        if _SID.fullmatch(parent) and staff:
            await line.answered(parent, staff)
        return twiml(self._ready()[0].whisper())

    async def dialled(self, request: web.Request) -> web.Response:
        """The <Dial> ended: talked (how long), or nobody answered, which is handled as closed."""
        form, sid = await self.signed(request)
        answers, line, hours, clock = self._ready()
        lang = await self._lang(line, sid)
        if form.get("DialCallStatus") == "completed":
            await line.talked(sid, _seconds(form.get("DialCallDuration", "")))
            return twiml(answers.hangup())
        await line.closed(sid)
        now = clock()
        return twiml(answers.closed(lang, _opens(hours, now), now, hours.timezone))

    async def _lang(self, line: PhoneLine, sid: str) -> str | None:
        return await line.language(sid)

    async def recorded(self, request: web.Request) -> web.Response:
        """The <Record> ended: note the message (its audio follows), then ask about a call-back."""
        form, sid = await self.signed(request)
        answers, line, _hours, _clock = self._ready()
        recording = form.get("RecordingSid", "")
        seconds = _seconds(form.get("RecordingDuration", ""))
        if _SID.fullmatch(recording) and seconds > 0:
            await line.recorded(sid, recording, seconds)
        lang = await self._lang(line, sid)
        if not await line.has_number(sid):
            # A withheld number cannot be called back: asking would promise what cannot happen.
            return twiml(answers.goodbye(lang, yes=False))
        return twiml(answers.ask_consent(lang))

    async def recording(self, request: web.Request) -> web.Response:
        """The recording is ready: download it, store it encrypted, delete it at Twilio."""
        form, sid = await self.signed(request)
        _answers, line, _hours, _clock = self._ready()
        recording = form.get("RecordingSid", "")
        if form.get("RecordingStatus") != "completed" or not _SID.fullmatch(recording):
            return web.Response(status=204)
        await line.recorded(sid, recording, _seconds(form.get("RecordingDuration", "")))
        if await line.awaiting_download(recording):
            try:
                audio, content_type = await self.api.download(recording)
            except Exception as exc:  # the provider's error text may quote a URL: only its kind is logged
                log.error("could not download a voicemail from Twilio (%s)", type(exc).__name__)
                raise web.HTTPServiceUnavailable(text="download failed") from None
            await line.store_voicemail(recording, audio, content_type)
        try:
            await self.api.delete(recording)
        except Exception as exc:
            log.error(
                "could not delete a voicemail at Twilio (%s): delete it there by hand", type(exc).__name__
            )
        return web.Response(status=204)

    async def consent(self, request: web.Request) -> web.Response:
        form, sid = await self.signed(request)
        answers, line, _hours, _clock = self._ready()
        # What is said is what was stored: "we may call you back" only when that is now possible.
        possible = await line.consent(sid, form.get("Digits", "") == "1")
        return twiml(answers.goodbye(await self._lang(line, sid), possible))

    async def status(self, request: web.Request) -> web.Response:
        form, sid = await self.signed(request)
        _answers, line, _hours, _clock = self._ready()
        if form.get("CallStatus") in ("completed", "busy", "no-answer", "failed", "canceled"):
            await line.ended(sid)
        return web.Response(status=204)

    async def audio(self, request: web.Request) -> web.StreamResponse:
        """A recorded prompt (public: it is what every caller hears)."""
        folder = self.settings.recordings_dir
        lang, name = request.match_info["lang"], request.match_info["name"]
        if folder is None or not _LANG.fullmatch(lang) or not _AUDIO_NAME.fullmatch(name):
            raise web.HTTPNotFound()
        path = folder / lang / name
        if not path.is_file():
            raise web.HTTPNotFound()
        return web.FileResponse(path, headers={"Content-Type": "audio/mpeg"})


def _opens(hours: OpeningHours, now: datetime) -> datetime | None:
    """When the phone opens, to be spoken; None within hours (open, only nobody free: no time to name)."""
    return None if hours.is_open(now, PHONE) else hours.next_opening(now, PHONE)


def _seconds(value: str) -> int:
    return int(value) if value.isdigit() and len(value) < 7 else 0
