"""The anonymous web chat: no account, no cookie; a random signed token in the tab's sessionStorage is the
person's only address. Replies are pulled by long polling from the outbox, so any process can serve them."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from bots.bodies import parse_json, read_limited
from bots.channels.base import ChannelContext
from bots.channels.webchat.page import ChatPage
from bots.channels.webchat.settings import WebChatSettings
from bots.http.errors import json_error, json_refusal
from intake.categories import N_
from intake.i18n import pick_language
from intake.keywords import Keyword
from intake.limits import Check
from intake.messages import Channel, Contact, InboundMessage
from intake.typing_signals import Side

log = logging.getLogger(__name__)

MAX_BODY = 16 * 1024
MAX_ID = 2**63 - 1
POLL_SECONDS = 25.0
# Another process may have queued a reply (staff console on a second copy): look again this often.
RECHECK_SECONDS = 2.0

TOO_LONG = N_("The message is too long. Please split it into shorter messages.")
EMPTY = N_("The message is empty.")
# The web chat's limits (intake/limits.py). Shown on the page; the person's text goes back into the box.
BUSY = N_(
    "The chat is very busy right now.\n"
    "Please try again in a few minutes. If you are in danger now, call 112 (police)."
)
TOO_FAST = N_(
    "Your message has not been sent yet.\n"
    "Please wait a minute and send it again. If you are in danger now, call 112 (police)."
)
RETRY_AFTER = "60"
# Typing signals from one chat per minute: the page sends one every 3 s at most while the person types
# (intake/typing_signals.py), and a "stopped" now and then.
TYPING_PER_MINUTE = 30


def _refused(text: str) -> web.Response:
    """A limit's answer: the polite text for the page to show, never a bare error page."""
    return json_error(429, text, headers={"Retry-After": RETRY_AFTER})


class WebChat:
    """The web chat's routes while the service runs: built at start-up from its settings and the context."""

    def __init__(self, settings: WebChatSettings, context: ChannelContext) -> None:
        self.receive = context.receive
        self.delivery = context.delivery
        self.keywords = context.keywords
        self.clock = context.clock
        self.token_expired = context.token_expired
        # A token stops working once its conversation is gone by retention (intake/chat_tokens.py).
        self.retention = settings.retention
        self.keys = context.keys
        self.catalogs = context.catalogs
        self.exit_url = settings.exit_url
        self.clients = settings.clients
        self.limits = settings.limits
        self.counter = context.counter
        self.typing = context.typing
        context.typing.on_staff(self.notify)
        # A longer message than the default needs a larger body (16 KiB is 8 bytes a character for 2,000).
        self.max_body = max(MAX_BODY, 8 * self.limits.max_message_chars + 384)
        self.landing = ChatPage(context.catalogs, context.hours, context.clock, context.line_status)
        self._waiters: dict[str, set[asyncio.Event]] = {}
        self._closing = False

    def close(self) -> None:
        """At shutdown: answer every waiting long poll now (the browser simply polls again)."""
        self._closing = True
        for events in self._waiters.values():
            for event in events:
                event.set()

    def notify(self, pseudonyms: Sequence[str]) -> None:
        """Wake the long polls of these people (called after a commit that queued replies)."""
        for pseudonym in pseudonyms:
            for event in self._waiters.get(pseudonym, ()):
                event.set()

    def _language(self, request: web.Request) -> str:
        header = request.headers.get("Accept-Language", "")
        return pick_language(self.catalogs.languages, request.query.get("lang"), header)

    async def page(self, request: web.Request) -> web.Response:
        state = await self.landing.state(self._language(request))
        context = {
            "exit_url": self.exit_url,
            "static": "/static",
            "max_chars": self.limits.max_message_chars,
            **state,
            "t": state["texts"],
        }
        return aiohttp_jinja2.render_template("chat.html", request, context)

    async def status(self, request: web.Request) -> web.Response:
        """The line's state and the page's words in one language (the landing polls it)."""
        return web.json_response(await self.landing.state(self.landing.language(request.query.get("lang"))))

    def _source(self, request: web.Request) -> str:
        """The client address as a keyed hash: what the limits count and a flood is known by."""
        address = self.clients.of(request)
        return self.keys.pseudonym(Contact(Channel.WEBCHAT, f"client-address:{address}"))[:16]

    async def session(self, request: web.Request) -> web.Response:
        limits = self.limits
        refused = await self.counter.admit(
            [
                Check(f"session:{self._source(request)}", limits.sessions_per_minute),
                # Admission control: everyone's new sessions together.
                Check("session:all", limits.new_sessions_per_minute),
            ]
        )
        if refused is not None:
            return _refused(self.catalogs.texts(self._language(request))(BUSY))
        return web.json_response({"token": self.keys.new_token(issued=self.clock())})

    async def _token(self, request: web.Request) -> str:
        """The request's valid token; else 401, which the page answers by starting a new session and
        sending the same message again (nothing typed is lost)."""
        token = request.headers.get("X-Chat-Token", "")
        if not self.keys.check_token(token):
            raise json_refusal(web.HTTPUnauthorized, "unknown chat session")
        if await self.token_expired(token, self.clock(), self.retention):
            raise json_refusal(web.HTTPUnauthorized, "this chat session has expired", more={"expired": True})
        return token

    async def _body(self, request: web.Request) -> dict[str, Any] | None:
        try:
            data = parse_json(await read_limited(request, self.max_body))
        except ValueError:
            return None
        return data if isinstance(data, dict) else None

    async def send(self, request: web.Request) -> web.Response:
        token = await self._token(request)
        data = await self._body(request)
        if data is None:
            return json_error(400, "the body must be a JSON object")
        text, choice, client_id = data.get("text", ""), data.get("choice"), data.get("client_id")
        lang = data.get("lang") if isinstance(data.get("lang"), str) else None
        t = self.catalogs.texts(lang or self.catalogs.languages[0])
        if not isinstance(text, str) or (choice is not None and not isinstance(choice, str)):
            return json_error(400, "text and choice must be strings")
        if len(text) > self.limits.max_message_chars:
            return json_error(400, t(TOO_LONG))
        if not text.strip() and not choice:
            return json_error(400, t(EMPTY))
        if not isinstance(client_id, str) or not 8 <= len(client_id) <= 64 or not client_id.isprintable():
            client_id = str(uuid.uuid4())
        contact = Contact(Channel.WEBCHAT, token)
        source = self._source(request)
        # The erase word is never held back: erasure wins over every limit.
        if self.keywords.keyword(text) is not Keyword.DELETE:
            refused = await self.counter.admit(
                [
                    Check(f"messages:{self.keys.pseudonym(contact)}", self.limits.messages_per_minute),
                    Check(f"messages:{source}", self.limits.address_messages_per_minute),
                ]
            )
            if refused is not None:
                return _refused(t(TOO_FAST))
        message = InboundMessage(
            contact=contact,
            # The client picks its ids, so they are unique only within its own session.
            provider_id=f"{token}/{client_id}",
            text=text,
            received_at=datetime.now(UTC),
            choice=choice[:64] if choice else None,
            locale_hint=lang,
            source=source,
        )
        outcome = await self.receive(message)
        return web.json_response({"ok": True, "outcome": str(outcome)}, status=202)

    async def poll(self, request: web.Request) -> web.Response:
        token = await self._token(request)
        try:
            after = int(request.query.get("after", "0"))
        except ValueError:
            after = -1
        # Outbox ids are 64-bit: a larger number would fail in the database driver, not find nothing.
        if not 0 <= after <= MAX_ID:
            return json_error(400, "after must be a reply id, a whole number from 0")
        pseudonym = self.keys.pseudonym(Contact(Channel.WEBCHAT, token))
        # What the page shows now ("Writing…" from staff or not): a change of it answers the poll too.
        shown = request.query.get("typing") == "1"
        event = asyncio.Event()
        self._waiters.setdefault(pseudonym, set()).add(event)
        try:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + POLL_SECONDS
            while True:
                messages = await self._pending(pseudonym, after)
                if messages:
                    self.typing.replied(pseudonym)
                typing_left = self.typing.staff_typing(pseudonym)
                remaining = deadline - loop.time()
                if messages or remaining <= 0 or self._closing or (typing_left > 0) != shown:
                    answer: dict[str, Any] = {"messages": messages}
                    # Said only when it shows or the page shows it (a page without it reads no "typing").
                    if typing_left > 0 or shown:
                        answer["typing"] = typing_left > 0
                    return web.json_response(answer)
                event.clear()
                # While "Writing…" shows, look again when it runs out.
                wait = min(RECHECK_SECONDS, remaining, typing_left or RECHECK_SECONDS)
                try:
                    async with asyncio.timeout(wait):
                        await event.wait()
                except TimeoutError:
                    pass
        finally:
            waiters = self._waiters.get(pseudonym)
            if waiters is not None:
                waiters.discard(event)
                if not waiters:
                    del self._waiters[pseudonym]

    async def typing_signal(self, request: web.Request) -> web.Response:
        """POST {"typing": true|false}: the person is (no longer) writing. Shown to the staff member on
        the conversation, never stored as a message and never sent anywhere else."""
        token = await self._token(request)
        data = await self._body(request)
        if data is None:
            return json_error(400, "the body must be a JSON object")
        typing = data.get("typing", True)
        if not isinstance(typing, bool):
            return json_error(400, "typing must be true or false")
        pseudonym = self.keys.pseudonym(Contact(Channel.WEBCHAT, token))
        if not self.typing.due(Side.PERSON, pseudonym, typing):
            return web.json_response({"ok": True, "sent": False}, status=202)
        refused = await self.counter.admit([Check(f"typing:{pseudonym}", TYPING_PER_MINUTE)])
        if refused is not None:
            return json_error(429, "too many typing signals", headers={"Retry-After": RETRY_AFTER})
        sent = await self.typing.person(pseudonym, typing)
        return web.json_response({"ok": True, "sent": sent}, status=202)

    async def _pending(self, pseudonym: str, after: int) -> list[dict[str, Any]]:
        pulled = await self.delivery.pull(pseudonym, after)
        return [{"id": reply.id, **reply.payload} for reply in pulled]
