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
from bots.webchat_page import ChatPage
from intake.categories import N_
from intake.i18n import Catalogs
from intake.messages import Channel, Contact, InboundMessage
from intake.privacy import Keys
from intake.service import IntakeService
from intake.storage.uow import Database

log = logging.getLogger(__name__)

MAX_CHARS = 2000
MAX_BODY = 16 * 1024
MAX_ID = 2**63 - 1
POLL_SECONDS = 25.0
# Another process may have queued a reply (staff console on a second copy): look again this often.
RECHECK_SECONDS = 2.0

TOO_LONG = N_("The message is too long. Please split it into shorter messages.")
EMPTY = N_("The message is empty.")


def _json_error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


class WebChat:
    def __init__(
        self, service: IntakeService, db: Database, keys: Keys, catalogs: Catalogs, exit_url: str
    ) -> None:
        self.service = service
        self.db = db
        self.keys = keys
        self.catalogs = catalogs
        self.exit_url = exit_url
        self.landing = ChatPage(service, catalogs)
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
        wanted = request.query.get("lang", "")
        if wanted in self.catalogs.languages:
            return wanted
        for part in request.headers.get("Accept-Language", "").split(","):
            tag = part.split(";")[0].strip().replace("-", "_")
            for candidate in (tag, tag.split("_")[0], "nb" if tag[:2] in ("no", "nn") else ""):
                if candidate in self.catalogs.languages:
                    return candidate
        return self.catalogs.languages[0]

    async def page(self, request: web.Request) -> web.Response:
        state = await self.landing.state(self._language(request))
        context = {"exit_url": self.exit_url, "static": "/static", **state, "t": state["texts"]}
        return aiohttp_jinja2.render_template("chat.html", request, context)

    async def status(self, request: web.Request) -> web.Response:
        """The line's state and the page's words in one language (the landing polls it)."""
        return web.json_response(await self.landing.state(self.landing.language(request.query.get("lang"))))

    async def session(self, request: web.Request) -> web.Response:
        return web.json_response({"token": self.keys.new_token()})

    def _token(self, request: web.Request) -> str | None:
        token = request.headers.get("X-Chat-Token", "")
        return token if self.keys.check_token(token) else None

    async def _body(self, request: web.Request) -> dict[str, Any] | None:
        try:
            data = parse_json(await read_limited(request, MAX_BODY))
        except ValueError:
            return None
        return data if isinstance(data, dict) else None

    async def send(self, request: web.Request) -> web.Response:
        token = self._token(request)
        if token is None:
            return _json_error(401, "unknown chat session")
        data = await self._body(request)
        if data is None:
            return _json_error(400, "the body must be a JSON object")
        text, choice, client_id = data.get("text", ""), data.get("choice"), data.get("client_id")
        lang = data.get("lang") if isinstance(data.get("lang"), str) else None
        t = self.catalogs.texts(lang or self.catalogs.languages[0])
        if not isinstance(text, str) or (choice is not None and not isinstance(choice, str)):
            return _json_error(400, "text and choice must be strings")
        if len(text) > MAX_CHARS:
            return _json_error(400, t(TOO_LONG))
        if not text.strip() and not choice:
            return _json_error(400, t(EMPTY))
        if not isinstance(client_id, str) or not 8 <= len(client_id) <= 64 or not client_id.isprintable():
            client_id = str(uuid.uuid4())
        message = InboundMessage(
            contact=Contact(Channel.WEBCHAT, token),
            # The client picks its ids, so they are unique only within its own session.
            provider_id=f"{token}/{client_id}",
            text=text,
            received_at=datetime.now(UTC),
            choice=choice[:64] if choice else None,
            locale_hint=lang,
        )
        outcome = await self.service.handle(message)
        return web.json_response({"ok": True, "outcome": str(outcome)}, status=202)

    async def poll(self, request: web.Request) -> web.Response:
        token = self._token(request)
        if token is None:
            return _json_error(401, "unknown chat session")
        try:
            after = int(request.query.get("after", "0"))
        except ValueError:
            after = -1
        # Outbox ids are 64-bit: a larger number would fail in the database driver, not find nothing.
        if not 0 <= after <= MAX_ID:
            return _json_error(400, "after must be a reply id, a whole number from 0")
        pseudonym = self.keys.pseudonym(Contact(Channel.WEBCHAT, token))
        event = asyncio.Event()
        self._waiters.setdefault(pseudonym, set()).add(event)
        try:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + POLL_SECONDS
            while True:
                messages = await self._pending(pseudonym, after)
                remaining = deadline - loop.time()
                if messages or remaining <= 0 or self._closing:
                    return web.json_response({"messages": messages})
                event.clear()
                try:
                    async with asyncio.timeout(min(RECHECK_SECONDS, remaining)):
                        await event.wait()
                except TimeoutError:
                    pass
        finally:
            waiters = self._waiters.get(pseudonym)
            if waiters is not None:
                waiters.discard(event)
                if not waiters:
                    del self._waiters[pseudonym]

    async def _pending(self, pseudonym: str, after: int) -> list[dict[str, Any]]:
        async with self.db.uow() as uow:
            rows = await uow.outbox.delivered_to(pseudonym, after)
            if not rows:
                return []
            await uow.outbox.mark_pulled([r.id for r in rows], datetime.now(UTC))
            for row in rows:
                await uow.messages.set_delivery(row.id, "sent")
            await uow.commit()
        return [{"id": row.id, **row.payload} for row in rows]
