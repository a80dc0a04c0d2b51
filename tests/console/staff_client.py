"""A staff member using the console's JSON API the way console.js does, and a reader for its event stream.

The cookie is sent by hand (the clients run with no cookie jar): several staff members share one test client,
and a `Secure` cookie would not travel over the tests' plain http otherwise.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from http.cookies import Morsel
from typing import Any

from aiohttp import ClientResponse

from tests.channels.webchat_tab import Http

PASSWORD = "correct horse battery"
# A bound on waiting for something that should come (an event, a process): never a claim about speed.
WAIT_SECONDS = 20.0
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')
JSON_TYPE = {"Content-Type": "application/json"}


def session_cookie(response: ClientResponse) -> Morsel[str]:
    """The one cookie a sign-in answer sets."""
    assert len(response.cookies) == 1, response.headers.getall("Set-Cookie", [])
    return next(iter(response.cookies.values()))


class Staff:
    def __init__(self, http: Http, name: str, password: str = PASSWORD) -> None:
        self.http = http
        self.name = name
        self.password = password
        self.cookie_name = ""
        self.token = ""
        self.csrf = ""

    async def login(
        self, password: str | None = None, headers: dict[str, str] | None = None
    ) -> ClientResponse:
        """POST /staff/login as the sign-in form does; the answer as it comes."""
        form = {"name": self.name, "password": self.password if password is None else password}
        return await self.http.post("/staff/login", data=form, headers=headers or {}, allow_redirects=False)

    async def sign_in(self) -> Staff:
        response = await self.login()
        assert response.status == 303, await response.text()
        assert response.headers["Location"] == "/staff"
        cookie = session_cookie(response)
        self.cookie_name, self.token = cookie.key, cookie.value
        page = await self.http.get("/staff", headers=self.cookies(), allow_redirects=False)
        assert page.status == 200
        found = CSRF_META.search(await page.text())
        assert found is not None
        self.csrf = found.group(1)
        return self

    def cookies(self, token: str | None = None) -> dict[str, str]:
        return {"Cookie": f"{self.cookie_name}={self.token if token is None else token}"}

    async def get(self, path: str) -> ClientResponse:
        return await self.http.get(f"/staff/api/{path}", headers=self.cookies())

    async def post(
        self, path: str, body: dict[str, Any] | None = None, *, csrf: str | None = None
    ) -> ClientResponse:
        """A POST under /staff/api/ with this member's CSRF token (or the one given; "" sends none)."""
        return await self.post_raw(path, json.dumps(body or {}), csrf=csrf)

    async def post_raw(
        self, path: str, data: str | bytes | AsyncIterator[bytes], *, csrf: str | None = None
    ) -> ClientResponse:
        token = self.csrf if csrf is None else csrf
        headers = self.cookies() | JSON_TYPE | ({"X-CSRF-Token": token} if token else {})
        return await self.http.post(f"/staff/api/{path}", data=data, headers=headers)

    async def read(self, path: str) -> dict[str, Any]:
        response = await self.get(path)
        assert response.status == 200, await response.text()
        data: dict[str, Any] = await response.json()
        return data

    async def act(self, conversation_id: str, action: str, body: dict[str, Any] | None = None) -> Any:
        response = await self.post(f"conversations/{conversation_id}/{action}", body)
        assert response.status == 200, await response.text()
        return await response.json()

    async def conversation(self, conversation_id: str) -> dict[str, Any]:
        return await self.read(f"conversations/{conversation_id}")

    async def queue(self) -> dict[str, Any]:
        return await self.read("queue")

    async def stream(self) -> EventStream:
        response = await self.get("stream")
        assert response.status == 200, await response.text()
        assert response.content_type == "text/event-stream"
        stream = EventStream(response)
        assert await stream.next() == Event("hello", {})
        return stream

    async def sign_out(self) -> ClientResponse:
        return await self.http.post(
            "/staff/logout", data={"csrf_token": self.csrf}, headers=self.cookies(), allow_redirects=False
        )


@dataclass(frozen=True)
class Event:
    name: str
    data: dict[str, Any]


END = Event("end of stream", {})


class EventStream:
    """Server-sent events as a browser's EventSource reads them: comments skipped, one event a blank line."""

    def __init__(self, response: ClientResponse) -> None:
        self.response = response

    async def next(self) -> Event:
        name, data = "message", ""
        async with asyncio.timeout(WAIT_SECONDS):
            while True:
                raw = await self.response.content.readline()
                if not raw:
                    return END
                line = raw.decode("utf-8").rstrip("\n")
                if not line:
                    if data:
                        return Event(name, json.loads(data))
                    continue
                if line.startswith(":"):
                    continue
                field, _, value = line.partition(":")
                if field == "event":
                    name = value.strip()
                elif field == "data":
                    data += value.removeprefix(" ")

    async def change(self) -> str | None:
        """The next event, which must be a change: the conversation it names."""
        event = await self.next()
        assert event.name == "change", event
        conversation: str | None = event.data["conversation"]
        return conversation

    def close(self) -> None:
        self.response.close()
