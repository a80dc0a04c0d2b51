"""The whole service under fuzzing, and the checks that every answer it gives must pass.

One app with every channel on (web chat, Telegram, SMS and WhatsApp through Twilio, the staff console) on a
temp SQLite file (or a scratch PostgreSQL database), Telegram and Twilio pointed at the local fakes. The
outbox worker is off and the console's clock stands still, so that nothing but the request under test
writes to the database while it runs: a refused request must leave every table exactly as it was.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import re
import sqlite3
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from yarl import URL

from bots.app import WIRING, Wiring
from intake import content as c
from intake.storage.models import Base
from tests.channels.console_client import claimed_conversation
from tests.channels.raw_http import raw_exchange
from tests.channels.webchat_tab import Chat, Client

REPO = Path(__file__).resolve().parents[2]
PUBLIC_URL = "https://public.example"
TELEGRAM_SECRET = "fuzz-webhook_Secret-0123456789"
SMS_FROM = "+4759440000"
WHATSAPP_FROM = "whatsapp:+4759440001"
STAFF, OTHER_STAFF, PASSWORD = "anna", "ben", "correct horse battery"
# The console's clock: sessions neither expire nor get touched (a write) however long a run takes.
CONSOLE_NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
# Submitted in markup-carrying strings; an HTML answer must never contain it as it was sent.
PROBE = "<script>fuzz()</script>"

# What gives a Python error away: a traceback, a source line, an exception's (dotted) class name.
LEAK = re.compile(
    r"Traceback \(most recent call last\)|File \"[^\"]*\", line \d+|\b(?:\w+\.)*[A-Z]\w*(?:Error|Exception)\b"
)


class Expect(enum.Enum):
    """What a route must answer to a request, by the route's rules."""

    OK = "accepted (2xx, or the sign-in's 303)"
    REFUSED = "refused (4xx)"
    EITHER = "accepted or refused, never an error"


@dataclass(frozen=True)
class Request:
    """One HTTP request through the test client. `target` is sent as written (already percent-encoded)."""

    method: str
    target: str
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    # Sent in pieces with Transfer-Encoding: chunked instead of a Content-Length.
    chunked: bool = False

    def __repr__(self) -> str:
        body = self.body if len(self.body) <= 300 else self.body[:300] + b"..."
        chunked = ", chunked" if self.chunked else ""
        sent = f"{body!r} ({len(self.body)} B){chunked}"
        return f"Request({self.method} {self.target}, {dict(self.headers)!r}, {sent})"


@dataclass(frozen=True)
class RawRequest:
    """Bytes written straight to the socket: header bytes no client library would send, cut-off bodies."""

    data: bytes
    # Close our side after writing: a body shorter than its Content-Length then ends for good.
    half_close: bool = False


@dataclass(frozen=True)
class Answer:
    status: int | None  # None: the connection closed without an answer
    text: str
    content_type: str


async def _pieces(body: bytes, size: int = 1000) -> AsyncIterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]
        await asyncio.sleep(0)


def _parse_raw(reply: bytes) -> Answer:
    head, _, body = reply.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    if not lines[0].startswith("HTTP/"):
        return Answer(None, body.decode("utf-8", "replace"), "")
    status = int(lines[0].split()[1])
    content_type = next(
        (
            line.split(":", 1)[1].split(";")[0].strip()
            for line in lines
            if line.lower().startswith("content-type:")
        ),
        "",
    )
    return Answer(status, body.decode("utf-8", "replace"), content_type)


def check_answer(answer: Answer, expect: Expect, sent: bytes = b"") -> None:
    """The properties of one answer on its own: no 5xx, no Python error shown, the expected class."""
    shown = f"{answer.status} {answer.content_type}: {answer.text[:400]!r}"
    assert answer.status is None or answer.status < 500, f"a server error: {shown}"
    leak = LEAK.search(answer.text)
    assert leak is None, f"the answer shows a Python error ({leak.group(0)!r}): {shown}"
    if answer.content_type == "text/html" and PROBE.encode() in sent:
        assert PROBE not in answer.text, f"submitted markup came back in a page: {shown}"
    if answer.status is None:
        return
    if expect is Expect.OK:
        assert 200 <= answer.status < 300 or answer.status == 303, f"a valid request was refused: {shown}"
    elif expect is Expect.REFUSED:
        assert 400 <= answer.status < 500, f"an invalid request was not refused: {shown}"


@dataclass(repr=False)
class Service:
    """The running app as the fuzz tests use it: requests in, every property checked."""

    client: Client
    database: Path | None  # the SQLite file; None: PostgreSQL
    staff_cookie: str  # "name=token", as the browser sends it
    csrf: str
    chat_token: str  # a valid web chat session
    _held: str | None = None

    def __repr__(self) -> str:
        return "Service(the running app)"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        # Hypothesis prints a failing example's arguments with this, not __repr__.
        printer.text(repr(self))

    @property
    def wiring(self) -> Wiring:
        assert self.client.app is not None
        return self.client.app[WIRING]

    @property
    def staff_headers(self) -> dict[str, str]:
        return {"Cookie": self.staff_cookie, "X-CSRF-Token": self.csrf}

    async def send(self, request: Request) -> Answer:
        async with self.client.request(
            request.method,
            URL(request.target, encoded=True),
            data=_pieces(request.body) if request.chunked else request.body,
            headers=dict(request.headers),
            skip_auto_headers=("Content-Type",),
            allow_redirects=False,
        ) as response:
            body = await response.read()
        # Every request says for itself which session it has: none may come from the jar.
        self.client.session.cookie_jar.clear()
        return Answer(response.status, body.decode("utf-8", "replace"), response.content_type)

    async def send_raw(self, request: RawRequest) -> Answer:
        return _parse_raw(await raw_exchange(self.client, request.data, half_close=request.half_close))

    async def dump(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every committed row of every table. SQLite is read straight from its file (the sequences of ids
        too): far faster than through the ORM, and a refused request must not have committed anything."""
        if self.database is None:
            async with self.wiring.storage.engine.connect() as conn:
                return {
                    table.name: [
                        tuple(row) for row in await conn.execute(select(table).order_by(*table.primary_key))
                    ]
                    for table in Base.metadata.sorted_tables
                }
        with contextlib.closing(sqlite3.connect(self.database)) as db:
            names = [name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            # The names come from SQLite's own catalogue.
            return {name: db.execute(f'SELECT * FROM "{name}" ORDER BY rowid').fetchall() for name in names}  # noqa: S608

    async def check(
        self,
        request: Request | RawRequest,
        expect: Expect,
        *,
        kept_on_refusal: frozenset[str] = frozenset(),
    ) -> Answer:
        """Send one request and check every property: the answer's class and content, the database
        unchanged when refused (but for the tables named), and the service still answering."""
        before = await self.dump()
        if isinstance(request, Request):
            answer, sent = await self.send(request), request.body
        else:
            answer, sent = await self.send_raw(request), request.data
            if answer.status is None:
                assert request.half_close, f"no answer to a whole request: {answer.text[:200]!r}"
        check_answer(answer, expect, sent)
        if answer.status is None or answer.status >= 400:
            after = await self.dump()
            changed = sorted(
                name for name in before if before[name] != after[name] and name not in kept_on_refusal
            )
            assert not changed, f"a refused request ({answer.status}) changed the tables {changed}"
        async with self.client.get("/healthz") as health:
            assert health.status == 200
        return answer

    async def still_serving(self) -> None:
        """After a run: the probes answer and a person can still start a web chat."""
        async with self.client.get("/readyz") as ready:
            assert ready.status == 200
        chat = await Chat(self.client, lang="en").start()
        assert await chat.send("hello") == "accepted"
        replies = await chat.poll()
        assert replies
        assert replies[0]["text"].split("\n", 1)[0] == c.HELLO

    async def conversation_in_hand(self) -> str:
        """The id of a conversation the signed-in staff member holds: the last one if it still is, or a
        new one (a person writes on the web chat and it is claimed)."""
        if self._held is not None:
            async with self.wiring.db.uow() as uow:
                conv = await uow.conversations.get(self._held)
            if conv is not None and conv.status == "claimed" and conv.claimed_by == STAFF:
                return self._held
        self._held = await claimed_conversation(self.client, STAFF)
        return self._held
