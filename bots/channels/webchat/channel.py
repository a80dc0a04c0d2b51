"""The web chat as a channel: its page and JSON routes, no sender (the page pulls its replies)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from aiohttp import web

from bots.channels.base import ChannelContext, Sender
from bots.channels.webchat.chat import WebChat
from bots.channels.webchat.settings import WebChatSettings

NAME = "webchat"


@dataclass
class WebChatChannel:
    """bots/channels/base.py's `Channel` for the web chat; `chat` exists between `start` and `stop`."""

    config: WebChatSettings
    _chat: WebChat | None = None

    @property
    def name(self) -> str:
        return NAME

    @property
    def chat(self) -> WebChat:
        # aiohttp serves no request before start-up finished; this answers one anyway if it ever did.
        if self._chat is None:
            raise web.HTTPServiceUnavailable(text="starting")
        return self._chat

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/chat", self._page)
        app.router.add_post("/chat/api/session", self._session)
        app.router.add_post("/chat/api/send", self._send)
        app.router.add_get("/chat/api/poll", self._poll)
        app.router.add_get("/chat/api/status", self._status)
        app.router.add_post("/chat/api/typing", self._typing)
        app.on_shutdown.append(self._end_polls)

    async def _page(self, request: web.Request) -> web.StreamResponse:
        return await self.chat.page(request)

    async def _session(self, request: web.Request) -> web.StreamResponse:
        return await self.chat.session(request)

    async def _send(self, request: web.Request) -> web.StreamResponse:
        return await self.chat.send(request)

    async def _poll(self, request: web.Request) -> web.StreamResponse:
        return await self.chat.poll(request)

    async def _typing(self, request: web.Request) -> web.StreamResponse:
        return await self.chat.typing_signal(request)

    async def _status(self, request: web.Request) -> web.StreamResponse:
        return await self.chat.status(request)

    async def _end_polls(self, app: web.Application) -> None:
        # Runs before aiohttp waits for open requests: the long polls end at once.
        if self._chat is not None:
            self._chat.close()

    async def start(self, context: ChannelContext) -> Mapping[str, Sender]:
        chat = WebChat(self.config, context)
        context.on_replies(chat.notify)
        self._chat = chat
        return {}

    async def stop(self) -> None:
        """Nothing to close: the long polls ended at shutdown, and the chat holds no connection."""
