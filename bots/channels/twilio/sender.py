"""Sending through Twilio's REST API: one `TwilioSender` per channel (SMS, WhatsApp), paced per number.

The outbox calls `send` for each reply and retries on TemporaryFailure with backoff; PermanentFailure marks
the reply failed (the console shows it). Neither failure carries Twilio's own message text: it can quote the
person's number, and failure reasons are stored and logged.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from twilio.base.exceptions import TwilioRestException, TwilioServiceException

from intake import sms
from intake.messages import Channel, OutboundMessage
from intake.outbox import PermanentFailure, TemporaryFailure

log = logging.getLogger(__name__)

# Twilio refuses a body over 1600 characters (error 21617); a longer staff reply fails here, visibly.
MAX_BODY_CHARS = 1600
# One REST call may take this long; the outbox gives a whole `send` 30 s, rate-limit wait included.
REQUEST_TIMEOUT = 10.0
# A send waits at most this long for its number's next free slot; beyond, it is retried later instead.
MAX_RATE_WAIT = 15.0

# Twilio error codes that never get better by retrying.
PERMANENT_CODES = {
    21610: "the person has opted out (STOP) of messages from this number",
    21211: "invalid phone number",
    21614: "the number cannot receive SMS",
    21408: "sending to this region is not enabled on the account",
    21617: "the text is longer than 1600 characters",
    63016: "outside WhatsApp's 24-hour window; only an approved template may be sent",
    63024: "invalid WhatsApp recipient",
}


class RateLimiter:
    """Spaces the sends from one number evenly, `per_second` at most, in this process.

    Twilio queues what a number sends beyond its rate (for a long code about one message per second), and
    a long queue there delays every person's replies; pacing here keeps the queue in our outbox, where
    retries, order and staff visibility live. Each running copy of the service paces on its own.
    `clock` and `sleep` are injectable so tests need not wait.
    """

    def __init__(
        self,
        per_second: float,
        max_wait: float = MAX_RATE_WAIT,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if per_second <= 0:
            raise ValueError("per_second must be positive")
        self.interval = 1.0 / per_second
        self.max_wait = max_wait
        self.clock = clock
        self.sleep = sleep
        self._next_free = float("-inf")

    async def acquire(self) -> None:
        now = self.clock()
        slot = max(now, self._next_free)
        wait = slot - now
        if wait > self.max_wait:
            raise TemporaryFailure("this number's sending rate is reached", retry_after=wait)
        self._next_free = slot + self.interval
        if wait > 0:
            await self.sleep(wait)


def classify(exc: TwilioRestException | TwilioServiceException) -> TemporaryFailure | PermanentFailure:
    """Twilio's answer as a retry decision: rate limits, server errors and a rejected login are retried
    (a login is fixed by an operator); a known permanent code or any other client error is not."""
    status = int(getattr(exc, "status", 0) or 0)
    raw_code = getattr(exc, "code", None)
    code = int(raw_code) if isinstance(raw_code, int | str) and str(raw_code).isdigit() else None
    label = f"Twilio error {code} (HTTP {status})" if code else f"Twilio HTTP {status}"
    if code in PERMANENT_CODES:
        return PermanentFailure(f"{label}: {PERMANENT_CODES[code]}")
    if status == 429 or status >= 500 or status in (0, 401):
        if status == 401:
            log.error("Twilio rejected the credentials: check HELPLINE_TWILIO_AUTH_TOKEN")
        return TemporaryFailure(label)
    return PermanentFailure(label)


class TwilioSender:
    """Implements intake.outbox.Sender for one channel and one sending number."""

    def __init__(
        self,
        client: Any,
        channel: Channel,
        from_: str,
        limiter: RateLimiter,
        status_callback: str | None = None,
        template_sid: str | None = None,
    ) -> None:
        self.client = client
        self.channel = channel
        self.from_ = from_
        self.limiter = limiter
        self.status_callback = status_callback
        self.template_sid = template_sid

    def params(self, message: OutboundMessage) -> dict[str, str]:
        """The create-message parameters, or PermanentFailure for a message that can never be sent."""
        if message.contact.channel is not self.channel:
            raise PermanentFailure(f"a {message.contact.channel} message given to the {self.channel} sender")
        params = {"to": message.contact.address, "from_": self.from_}
        if self.status_callback:
            params["status_callback"] = self.status_callback
        if message.extra.get("template") == "invite":
            if self.channel is not Channel.WHATSAPP or not self.template_sid:
                raise PermanentFailure("no approved WhatsApp template is configured for the invitation")
            # The approved template holds the (neutral) text; it needs no variables.
            params["content_sid"] = self.template_sid
            return params
        body = sms.render(message.reply)
        if not body.strip():
            raise PermanentFailure("empty message")
        if len(body) > MAX_BODY_CHARS:
            raise PermanentFailure(f"the text is longer than {MAX_BODY_CHARS} characters")
        params["body"] = body
        return params

    async def send(self, message: OutboundMessage) -> str | None:
        params = self.params(message)
        await self.limiter.acquire()
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT):
                created = await self.client.messages.create_async(**params)
        except (TwilioRestException, TwilioServiceException) as exc:
            raise classify(exc) from None
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise TemporaryFailure(f"network: {type(exc).__name__}") from None
        sid = getattr(created, "sid", None)
        return str(sid) if sid else None
