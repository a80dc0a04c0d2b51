"""SMS and WhatsApp through Twilio: signed webhooks in, the durable outbox and Twilio's REST API out.

Inbound: Twilio posts a form to /webhooks/twilio/sms or /webhooks/twilio/whatsapp. The signature is checked
against the URL as Twilio called it (HELPLINE_PUBLIC_URL + path and query: behind a TLS-terminating proxy
the app itself sees http://127.0.0.1…), the message is committed by the core, and Twilio gets empty TwiML
at once: every reply goes through the outbox (sender.py). Delivery reports arrive, also signed,
at /webhooks/twilio/status and set the message's delivery state, which the staff console shows.

The person's number is the contact's address: stored only encrypted, never logged, never shown to staff.
Its country code is only a hint for the first language.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import parse_qsl

from aiohttp import web
from multidict import MultiDict
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from bots.channels.base import ChannelContext, DeliveryUpdates, Report, Sender
from bots.channels.twilio.sender import RateLimiter, TwilioSender
from bots.channels.twilio.settings import STATUS_PATH, TwilioSettings, locale_hint
from intake.messages import Channel, Contact, Delivery, InboundMessage
from intake.service import Outcome

log = logging.getLogger(__name__)

NAME = "twilio"

SMS_PATH = "/webhooks/twilio/sms"
WHATSAPP_PATH = "/webhooks/twilio/whatsapp"
TWIML_EMPTY = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
# An inbound form is a few kB (a 1600-character body, ten media URLs); anything far larger is not Twilio.
MAX_FORM_BYTES = 64 * 1024
MAX_MEDIA = 10

# Sending rates per number. A long code (an ordinary phone number) sends about 1 message per second;
# a WhatsApp sender far more (Twilio starts it at 80 per second): 20 is ample for a helpline.
SMS_PER_SECOND = 1.0
WHATSAPP_PER_SECOND = 20.0

_MESSAGE_SID = re.compile(r"[A-Za-z0-9]{2,64}")


# Twilio's delivery states -> ours; the others ("queued", "sent", …) change nothing. Reports may arrive in
# any order: intake.delivery keeps the furthest state.
DELIVERY_STATES = {
    "delivered": Delivery.DELIVERED,
    "read": Delivery.DELIVERED,
    "undelivered": Delivery.UNDELIVERED,
    "failed": Delivery.FAILED,
}


class TwilioWebhooks:
    """The signed webhooks; they reach the core only through the context they were given."""

    def __init__(self, config: TwilioSettings, context: ChannelContext) -> None:
        self.config = config
        self.validator = RequestValidator(config.auth_token)
        self.receive: Callable[[InboundMessage], Awaitable[Outcome]] = context.receive
        self.clock: Callable[[], datetime] = context.clock
        self.delivery: DeliveryUpdates = context.delivery

    async def signed_form(self, request: web.Request) -> MultiDict[str]:
        """The posted form, if Twilio signed it for the URL it called; else 403 (413, 400)."""
        signature = request.headers.get("X-Twilio-Signature", "")
        if not signature:
            raise web.HTTPForbidden(text="missing signature")
        if request.content_length is not None and request.content_length > MAX_FORM_BYTES:
            raise web.HTTPRequestEntityTooLarge(max_size=MAX_FORM_BYTES, actual_size=request.content_length)
        if request.content_type != "application/x-www-form-urlencoded":
            raise web.HTTPBadRequest(text="expected a form")
        raw = await request.read()
        if len(raw) > MAX_FORM_BYTES:
            raise web.HTTPRequestEntityTooLarge(max_size=MAX_FORM_BYTES, actual_size=len(raw))
        try:
            pairs = parse_qsl(
                raw.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(raw), errors="strict"
            )
            form = MultiDict(pairs)
        except ValueError:  # also UnicodeDecodeError
            raise web.HTTPBadRequest(text="malformed form") from None
        # The URL as Twilio saw it: the public base URL, then path and query exactly as received.
        url = self.config.public_url + request.raw_path
        if not self.validator.validate(url, form, signature):
            log.warning("rejected a Twilio webhook with a wrong signature on %s", request.path)
            raise web.HTTPForbidden(text="wrong signature")
        return form

    async def sms(self, request: web.Request) -> web.Response:
        return await self._inbound(request, Channel.SMS)

    async def whatsapp(self, request: web.Request) -> web.Response:
        return await self._inbound(request, Channel.WHATSAPP)

    async def _inbound(self, request: web.Request, channel: Channel) -> web.Response:
        form = await self.signed_form(request)
        sid, sender = form.get("MessageSid", ""), form.get("From", "")
        if not _MESSAGE_SID.fullmatch(sid) or not sender or len(sender) > 64:
            raise web.HTTPBadRequest(text="MessageSid and From are required")
        if sender.startswith("whatsapp:") != (channel is Channel.WHATSAPP):
            raise web.HTTPBadRequest(text=f"not a {channel} message")
        try:
            media = int(form.get("NumMedia") or 0)
        except ValueError:
            raise web.HTTPBadRequest(text="NumMedia must be a number") from None
        message = InboundMessage(
            contact=Contact(channel, sender),
            provider_id=sid,
            text=form.get("Body", ""),
            received_at=self.clock(),
            locale_hint=locale_hint(sender),
            attachments=max(0, min(media, MAX_MEDIA)),
        )
        await self.receive(message)
        return web.Response(text=TWIML_EMPTY, content_type="text/xml")

    async def status(self, request: web.Request) -> web.Response:
        form = await self.signed_form(request)
        sid, state = form.get("MessageSid", ""), form.get("MessageStatus", "")
        if not _MESSAGE_SID.fullmatch(sid) or not state:
            raise web.HTTPBadRequest(text="MessageSid and MessageStatus are required")
        delivery = DELIVERY_STATES.get(state)
        if delivery is None:
            return web.Response(status=204)
        # Twilio's error codes are numbers; anything else is not stored (a NUL would fail in PostgreSQL).
        error = form.get("ErrorCode", "")[:16]
        error = error if error.isascii() and error.isdigit() else ""
        failed = delivery is not Delivery.DELIVERED
        reason = f"Twilio: {state}, error {error or 'none'}" if failed else None
        channel = await self.delivery.report(Report(sid, delivery, reason))
        if failed:
            log.warning("a %s message was %s (Twilio error %s)", channel or "?", state, error)
        return web.Response(status=204)


@dataclass
class TwilioChannel:
    """SMS and WhatsApp through Twilio (bots/channels/base.py's `Channel`). The REST client exists only
    between `start` and `stop`, inside the event loop (it opens an aiohttp session)."""

    config: TwilioSettings
    senders: dict[str, TwilioSender] = field(default_factory=dict)
    _webhooks: TwilioWebhooks | None = None
    _http: AsyncTwilioHttpClient | None = None

    @property
    def name(self) -> str:
        return NAME

    def add_routes(self, app: web.Application) -> None:
        app[TWILIO] = self
        if self.config.sms_from:
            app.router.add_post(SMS_PATH, self._sms)
        if self.config.whatsapp_from:
            app.router.add_post(WHATSAPP_PATH, self._whatsapp)
        app.router.add_post(STATUS_PATH, self._status)

    def _started(self) -> TwilioWebhooks:
        # aiohttp serves no request before start-up finished; this answers one anyway if it ever did.
        if self._webhooks is None:
            raise web.HTTPServiceUnavailable(text="starting")
        return self._webhooks

    async def _sms(self, request: web.Request) -> web.Response:
        return await self._started().sms(request)

    async def _whatsapp(self, request: web.Request) -> web.Response:
        return await self._started().whatsapp(request)

    async def _status(self, request: web.Request) -> web.Response:
        return await self._started().status(request)

    async def start(self, context: ChannelContext) -> Mapping[str, Sender]:
        config = self.config
        self._http = AsyncTwilioHttpClient()  # opens an aiohttp session: inside the running loop
        client = Client(config.account_sid, config.auth_token, http_client=self._http)
        # Our API URL is the whole truth: no TWILIO_EDGE / TWILIO_REGION from the environment rewrites it.
        client.edge = client.region = None
        client.api.base_url = config.api_url
        limiters: dict[str, RateLimiter] = {}
        for name, from_, per_second, template in (
            (Channel.SMS, config.sms_from, SMS_PER_SECOND, None),
            (Channel.WHATSAPP, config.whatsapp_from, WHATSAPP_PER_SECOND, config.whatsapp_template_sid),
        ):
            if from_ is None:
                continue
            limiter = limiters.setdefault(from_, RateLimiter(per_second))
            self.senders[name.value] = TwilioSender(
                client, name, from_, limiter, config.status_callback, template
            )
        self._webhooks = TwilioWebhooks(config, context)
        return dict(self.senders)

    async def stop(self) -> None:
        self.senders.clear()
        self._webhooks = None
        if self._http is not None:
            await self._http.close()
            self._http = None


TWILIO = web.AppKey("twilio", TwilioChannel)
