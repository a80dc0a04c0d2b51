"""The web chat's own words and the line's state, for the landing page and its status poll.

Everything the page says before the first question (open or closed, when it opens, 112) comes from here,
in the language the page shows; the page asks again every `poll_seconds`, and again when the person picks
another language, so it follows both the clock and the choice.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from babel.dates import format_time

from intake.categories import N_
from intake.hours import OpeningHours
from intake.i18n import Catalogs, Texts, pick_language
from intake.line_status import LineStatus
from intake.messages import Channel

PAGE_TEXTS = {
    "title": N_("Chat"),
    "exit": N_("Leave quickly"),
    "exit_hint": N_("Press Esc to leave quickly"),
    "placeholder": N_("Write a message"),
    "send": N_("Send"),
    "intro": N_("Anonymous chat. You do not need to give your name."),
    "offline": N_("No connection. Trying again…"),
    "error": N_("The message was not sent. Please try again."),
    # Someone at the line is writing a reply (never who).
    "typing": N_("Writing…"),
}
OPEN_UNTIL = N_("We are open now, until {time}.")
OPEN = N_("We are open now.")
CLOSED_UNTIL = N_("We are closed now and open {time}. You can leave a message; nobody reads it before then.")
CLOSED = N_(
    "We are closed now, and nobody reads messages at the moment. You can leave a message, and we will "
    "answer as soon as we can."
)
EMERGENCY = N_("In danger right now? Call 112 (police) or 113 (ambulance).")

# How often an open page asks again, and how long one answer serves every page (it costs a query).
POLL_SECONDS = 30
CACHE_SECONDS = 5.0


class ChatPage:
    def __init__(
        self,
        catalogs: Catalogs,
        hours: OpeningHours,
        clock: Callable[[], datetime],
        line_status: Callable[[datetime, str], Awaitable[LineStatus]],
    ) -> None:
        self.catalogs = catalogs
        self.hours = hours
        self.clock = clock
        self.line_status = line_status
        self.poll_seconds = POLL_SECONDS
        self.cache_seconds = CACHE_SECONDS
        self._cached: tuple[float, LineStatus] | None = None
        self._lock = asyncio.Lock()

    def language(self, wanted: str | None) -> str:
        return pick_language(self.catalogs.languages, wanted)

    def texts(self, lang: str) -> dict[str, str]:
        t = self.catalogs.texts(lang)
        return {key: t(msgid) for key, msgid in PAGE_TEXTS.items()}

    async def _status(self, now: datetime) -> LineStatus:
        async with self._lock:
            cached = self._cached
            if cached is not None and time.monotonic() - cached[0] < self.cache_seconds:
                return cached[1]
            status = await self.line_status(now, Channel.WEBCHAT)
            self._cached = (time.monotonic(), status)
            return status

    def describe(self, status: LineStatus, t: Texts, now: datetime) -> str:
        tz = self.hours.timezone
        if status.open:
            if status.closes_at is None:
                return t(OPEN)
            if status.closes_at.astimezone(tz).date() == now.astimezone(tz).date():
                clock = format_time(status.closes_at, "short", tzinfo=tz, locale=t.lang)
            else:
                clock = t.moment(status.closes_at, now, tz)
            return t(OPEN_UNTIL, time=clock)
        if status.next_opening is None:
            return t(CLOSED)
        return t(CLOSED_UNTIL, time=t.moment(status.next_opening, now, tz))

    async def state(self, lang: str) -> dict[str, Any]:
        """The page's words and the line's state in this language: the landing's template context and the
        status poll's answer."""
        t = self.catalogs.texts(lang)
        now = self.clock()
        status = await self._status(now)
        return {
            "lang": lang.replace("_", "-"),
            "dir": "rtl" if t.rtl else "ltr",
            "open": status.open,
            "status": self.describe(status, t, now),
            "emergency": t(EMERGENCY),
            "texts": self.texts(lang),
            "poll_seconds": self.poll_seconds,
        }
