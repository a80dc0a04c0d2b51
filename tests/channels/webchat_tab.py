"""One person's browser tab on the web chat, through its JSON API: used by the chat's and the console's tests.

It talks to the app through aiohttp's test client, or through a plain client session on a real service
process (the console's tests with two processes).
"""

from __future__ import annotations

from typing import Any

import aiohttp
from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient

Client = TestClient[web.Request, web.Application]
# A test client, or a session with the base URL of a running service.
Http = Client | aiohttp.ClientSession


class Chat:
    """One browser tab: a session token, the id of the last reply seen, and a message counter."""

    def __init__(self, client: Http, lang: str | None = None, via: dict[str, str] | None = None) -> None:
        self.client = client
        self.lang = lang
        # Headers every request carries (a proxy's X-Forwarded-For, in the tests of the limits).
        self.via = via or {}
        self.token = ""
        self.after = 0
        self.count = 0

    async def start(self) -> Chat:
        response = await self.client.post("/chat/api/session", headers=self.via)
        assert response.status == 200, await response.text()
        self.token = (await response.json())["token"]
        return self

    @property
    def headers(self) -> dict[str, str]:
        return {"X-Chat-Token": self.token, **self.via}

    async def post(
        self, text: str = "", choice: str | None = None, client_id: str | None = None
    ) -> ClientResponse:
        self.count += 1
        body: dict[str, Any] = {"text": text, "client_id": client_id or f"client-{self.count:04d}"}
        if choice is not None:
            body["choice"] = choice
        if self.lang is not None:
            body["lang"] = self.lang
        return await self.client.post("/chat/api/send", json=body, headers=self.headers)

    async def send(self, text: str = "", choice: str | None = None, client_id: str | None = None) -> str:
        response = await self.post(text, choice, client_id)
        assert response.status == 202, await response.text()
        outcome = (await response.json())["outcome"]
        assert isinstance(outcome, str)
        return outcome

    async def poll(self) -> list[dict[str, Any]]:
        response = await self.client.get(f"/chat/api/poll?after={self.after}", headers=self.headers)
        assert response.status == 200, await response.text()
        assert response.content_type == "application/json"
        messages: list[dict[str, Any]] = (await response.json())["messages"]
        if messages:
            self.after = messages[-1]["id"]
        return messages

    async def says(self, text: str = "", choice: str | None = None) -> list[str]:
        """Send, then read the replies to it."""
        await self.send(text, choice)
        return [m["text"] for m in await self.poll()]
