"""The phone line through Twilio Voice, the first channel written against bots/channels/base.py.

A call is greeted (112 first), offered a language, then rings every staff member on phone duty at once
in opening hours; otherwise, or when nobody answers, it hears when the line opens, the emergency numbers
and the 24/7 services, may leave a message (downloaded, stored encrypted, deleted at Twilio) and says
whether a call-back is safe. Replies are spoken, not sent: the channel has no outbox sender.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

from aiohttp import web

from bots.channels.base import ChannelContext
from bots.channels.voice.rest import TwilioVoiceApi
from bots.channels.voice.settings import VoiceSettings
from bots.channels.voice.twiml import Answers
from bots.channels.voice.webhooks import VoiceWebhooks
from intake.calls import NoConsent, PhoneLine
from intake.config import Settings
from intake.hours import OpeningHours
from intake.i18n import Catalogs
from intake.outbox import Sender

NAME = "voice"


class VoiceChannel:
    def __init__(self, settings: VoiceSettings) -> None:
        self.settings = settings
        self.api = TwilioVoiceApi(settings)
        self.hooks = VoiceWebhooks(settings, self.api)
        self.line: PhoneLine | None = None

    @property
    def name(self) -> str:
        return NAME

    def use_line(self, line: PhoneLine) -> None:
        """The core's phone line (calls, voicemails, duty): the contract's context has no place for it yet."""
        self.line = line

    def add_routes(self, app: web.Application) -> None:
        self.hooks.add_routes(app)

    async def start(self, context: ChannelContext) -> Mapping[str, Sender]:
        await self.begin(context.catalogs, context.hours, context.clock)
        return {}

    async def begin(self, catalogs: Catalogs, hours: OpeningHours, clock: Callable[[], datetime]) -> None:
        """What `start` does with the three parts of the context the phone line uses."""
        if self.line is None:
            raise RuntimeError("the phone line needs the core's PhoneLine (use_line) before start")
        self.api.open()
        self.hooks.answers = Answers(self.settings, catalogs)
        self.hooks.line = self.line
        self.hooks.hours = hours
        self.hooks.clock = clock

    async def stop(self) -> None:
        self.hooks.answers = None
        await self.api.close()

    async def call_back(self, call_id: int, staff_name: str) -> str:
        """Twilio calls the staff member's phone first, then connects the consenting caller; both see only
        the line's number. NoConsent without a yes; LookupError when the staff member has no number."""
        if self.line is None or self.hooks.answers is None:
            raise RuntimeError("the phone line is not running")
        staff_phone = await self.line.staff_number(staff_name)
        if staff_phone is None:
            raise LookupError("no phone number stored for this staff member")
        caller = await self.line.call_back_number(call_id, staff_name)
        return await self.api.call(staff_phone, self.hooks.answers.call_back(caller))


def load(settings: Settings) -> VoiceChannel | None:
    voice = VoiceSettings.from_env(settings)
    return None if voice is None else VoiceChannel(voice)


__all__ = ["NAME", "NoConsent", "VoiceChannel", "load"]
