"""The staff console's sign-in and JSON API through the real app, on SQLite and PostgreSQL: what a browser
never sends but anyone can (unreadable forms, undecodable header bytes, odd ids and text) is refused or
stored cleaned, never a server error. The console's pages are tested in a real browser (tests/browser)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pytest_aiohttp import AiohttpClient
from sqlalchemy import func, select

from bots.app import WIRING, Wiring, make_app
from intake.config import load_settings
from intake.storage.models import ConversationRow, MessageRow, StaffSessionRow
from tests.channels.console_client import FAST_HASHER, claimed_conversation, sign_in
from tests.channels.raw_http import raw_exchange, status_of
from tests.channels.webchat_tab import Client

REPO = Path(__file__).resolve().parents[2]
STAFF, PASSWORD = "anna", "correct horse battery"
FORM = "application/x-www-form-urlencoded"


class Console:
    """The running app with one staff member signed in."""

    def __init__(self, client: Client, cookie: str, csrf: str) -> None:
        self.client = client
        self.cookie = cookie
        self.csrf = csrf

    @property
    def wiring(self) -> Wiring:
        assert self.client.app is not None
        return self.client.app[WIRING]

    async def post(self, path: str, body: bytes, **headers: str) -> tuple[int, str]:
        sent = {"Cookie": self.cookie, "X-CSRF-Token": self.csrf, "Content-Type": "application/json"}
        async with self.client.post(path, data=body, headers={**sent, **headers}) as response:
            return response.status, await response.text()

    async def raw(self, request_line: bytes, header: bytes) -> int | None:
        """A request with one header line as raw bytes, next to the session cookie."""
        head = request_line + b"\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n"
        cookie = b"Cookie: " + self.cookie.encode() + b"\r\n"
        return status_of(await raw_exchange(self.client, head + cookie + header + b"\r\n\r\n"))

    async def sessions(self) -> int:
        async with self.wiring.db.uow() as uow:
            return int(await uow.session.scalar(select(func.count()).select_from(StaffSessionRow)) or 0)

    async def texts(self, direction: str) -> list[str]:
        async with self.wiring.db.uow() as uow:
            stmt = select(MessageRow.text).where(MessageRow.direction == direction).order_by(MessageRow.id)
            return list((await uow.session.execute(stmt)).scalars().all())


@pytest.fixture
async def console(aiohttp_client: AiohttpClient, database_url: str) -> Console:
    env = {
        "HELPLINE_ENV": "development",
        "HELPLINE_DATABASE_URL": database_url,
        "HELPLINE_CONFIG": str(REPO / "deploy" / "config" / "always-open.toml"),
    }
    client = await aiohttp_client(make_app(load_settings(env), run_outbox=False))
    assert client.app is not None
    accounts = client.app[WIRING].accounts
    accounts.hasher = FAST_HASHER
    await accounts.add(STAFF, PASSWORD)
    cookie, csrf = await sign_in(client, STAFF, PASSWORD)
    return Console(client, cookie, csrf)


# ---- Sign-in and sign-out ----

UNREADABLE_FORMS = [
    (FORM + "; charset=bogus", b"name=anna&password=correct+horse+battery"),  # LookupError in aiohttp
    (FORM, b"name=anna&password=\xff\xfe"),  # UnicodeDecodeError
    ("multipart/form-data; boundary=B", b"not a multipart body"),  # ValueError
    ("multipart/form-data", b"--B\r\n\r\nanna\r\n--B--\r\n"),  # ValueError: no boundary
    (
        "multipart/form-data; boundary=B",
        b'--B\r\nContent-Disposition: form-data; name="name"\r\nContent-Transfer-Encoding: x\r\n\r\n'
        b"anna\r\n--B--\r\n",
    ),  # RuntimeError
]
UNREADABLE_IDS = ["unknown-charset", "not-utf8", "broken-multipart", "no-boundary", "unknown-encoding"]


@pytest.mark.parametrize(("content_type", "body"), UNREADABLE_FORMS, ids=UNREADABLE_IDS)
async def test_a_sign_in_form_that_cannot_be_read_is_400(
    console: Console, content_type: str, body: bytes
) -> None:
    async with console.client.post(
        "/staff/login", data=body, headers={"Content-Type": content_type}, allow_redirects=False
    ) as response:
        assert response.status == 400
        assert response.content_type == "text/html"  # the sign-in page again, with its message
    assert await console.sessions() == 1  # only the fixture's


@pytest.mark.parametrize(("content_type", "body"), UNREADABLE_FORMS, ids=UNREADABLE_IDS)
async def test_a_sign_out_form_that_cannot_be_read_is_refused(
    console: Console, content_type: str, body: bytes
) -> None:
    headers = {"Cookie": console.cookie, "Content-Type": content_type}
    async with console.client.post(
        "/staff/logout", data=body, headers=headers, allow_redirects=False
    ) as response:
        assert response.status == 403  # no CSRF token could be read
    assert await console.sessions() == 1


async def test_a_name_with_a_nul_is_a_failed_sign_in(console: Console) -> None:
    # It once reached the query, where PostgreSQL refuses a NUL in text (a 500).
    async with console.client.post(
        "/staff/login", data={"name": "an\x00na", "password": PASSWORD}, allow_redirects=False
    ) as response:
        assert response.status == 401
    assert await console.sessions() == 1


# ---- Session cookie and CSRF token as bytes on the wire ----


async def test_undecodable_bytes_in_the_cookie_or_the_csrf_token_are_refused(console: Console) -> None:
    # aiohttp hands undecodable header bytes over as surrogates, which encode() refuses (a 500, once).
    cookie_name = console.cookie.partition("=")[0].encode()
    status = status_of(
        await raw_exchange(
            console.client,
            b"GET /staff/api/queue HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            b"Cookie: " + cookie_name + b"=\xff\xfe\xc3\x28\r\n\r\n",
        )
    )
    assert status == 401
    conversation = await claimed_conversation(console.client, STAFF)
    claim = f"POST /staff/api/conversations/{conversation}/release HTTP/1.1".encode()
    assert await console.raw(claim, b"X-CSRF-Token: \xff\xfe") == 403
    async with console.wiring.db.uow() as uow:
        held = await uow.conversations.get(conversation)
    assert held is not None
    assert held.status == "claimed"


# ---- Bodies and ids ----


async def test_json_nested_past_the_recursion_limit_is_400(console: Console) -> None:
    conversation = await claimed_conversation(console.client, STAFF)
    body = b'{"text": "hei", "x": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    status, text = await console.post(f"/staff/api/conversations/{conversation}/notes", body)
    assert (status, text) == (400, '{"error": "the body must be JSON"}')
    assert await console.texts("note") == []


async def test_a_body_that_arrives_in_pieces_is_read_whole(console: Console) -> None:
    # One read() returns what has arrived so far: the note was once cut at the first piece (a 400).
    conversation = await claimed_conversation(console.client, STAFF)
    body = b'{"text": "' + b"n" * 3000 + b'", "padding": "' + b"p" * 30_000 + b'"}'

    async def pieces() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 1024):
            yield body[start : start + 1024]
            await asyncio.sleep(0)

    path = f"/staff/api/conversations/{conversation}/notes"
    async with console.client.post(
        path, data=pieces(), headers={"Cookie": console.cookie, "X-CSRF-Token": console.csrf}
    ) as response:
        assert response.status == 200, await response.text()
    assert await console.texts("note") == ["n" * 3000]


@pytest.mark.parametrize(
    "conversation", ["%00", "x", "not-a-conversation", "00000000-0000-4000-8000-000000000000"]
)
async def test_an_id_that_names_no_conversation_is_404(console: Console, conversation: str) -> None:
    # A NUL once reached the query, where PostgreSQL refuses it (a 500).
    for action in ("claim", "notes"):
        status, _ = await console.post(f"/staff/api/conversations/{conversation}/{action}", b'{"text": "x"}')
        assert status == 404
    async with console.client.get(
        f"/staff/api/conversations/{conversation}", headers={"Cookie": console.cookie}
    ) as response:
        assert response.status == 404


async def test_replies_and_notes_with_a_nul_or_a_lone_surrogate_are_stored_cleaned(console: Console) -> None:
    # JSON may carry both ("\u0000", "\ud800"); no database stores a lone surrogate, PostgreSQL no NUL.
    conversation = await claimed_conversation(console.client, STAFF)
    for action in ("notes", "messages"):
        body = b'{"text": "a\\u0000b\\ud800c"}'
        status, text = await console.post(f"/staff/api/conversations/{conversation}/{action}", body)
        assert status == 200, text
    assert await console.texts("note") == ["ab?c"]
    assert (await console.texts("out"))[-1] == "ab?c"


@pytest.mark.parametrize("country", ["Nor\\u0000way", "\\ud800", "Sy\\nria"])
async def test_closing_with_an_unprintable_country_is_400(console: Console, country: str) -> None:
    conversation = await claimed_conversation(console.client, STAFF)
    body = b'{"country": "' + country.encode() + b'"}'
    status, text = await console.post(f"/staff/api/conversations/{conversation}/close", body)
    assert status == 400, text
    async with console.wiring.db.uow() as uow:
        row = await uow.session.get(ConversationRow, conversation)
    assert row is not None
    assert row.status == "claimed"
