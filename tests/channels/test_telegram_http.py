"""PTB's transport on aiohttp against a real local HTTP server: form bodies, files, and how network
trouble becomes PTB's errors (which the sender turns into retries)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from pytest_aiohttp import AiohttpServer
from telegram import InputFile
from telegram.error import NetworkError, TimedOut
from telegram.request import RequestData
from telegram.request._requestparameter import RequestParameter

from bots.channels.telegram.http import AiohttpRequest


@pytest.fixture
async def request_() -> AsyncIterator[AiohttpRequest]:
    transport = AiohttpRequest()
    await transport.initialize()
    yield transport
    await transport.shutdown()


def form(**values: object) -> RequestData:
    return RequestData([RequestParameter.from_input(name, value) for name, value in values.items()])


async def test_posts_the_form_as_telegram_expects_and_returns_status_and_body(
    aiohttp_server: AiohttpServer, request_: AiohttpRequest
) -> None:
    seen: list[dict[str, str]] = []

    async def method(request: web.Request) -> web.Response:
        seen.append({k: str(v) for k, v in (await request.post()).items()})
        return web.json_response({"ok": True, "result": True}, status=200)

    app = web.Application()
    app.router.add_post("/bot123:T/sendMessage", method)
    server = await aiohttp_server(app)
    status, body = await request_.do_request(
        str(server.make_url("/bot123:T/sendMessage")),
        "POST",
        form(chat_id=42, text="Hei", protect_content=True, reply_markup={"inline_keyboard": []}),
    )
    assert (status, body) == (200, b'{"ok": true, "result": true}')
    # Ints, booleans and dicts arrive as JSON strings inside the form, as PTB's httpx transport sends them.
    assert seen == [
        {"chat_id": "42", "text": "Hei", "protect_content": "true", "reply_markup": '{"inline_keyboard": []}'}
    ]


async def test_error_statuses_come_back_for_ptb_to_map(
    aiohttp_server: AiohttpServer, request_: AiohttpRequest
) -> None:
    async def limited(request: web.Request) -> web.Response:
        body = {"ok": False, "error_code": 429, "parameters": {"retry_after": 3}}
        return web.json_response(body, status=429)

    app = web.Application()
    app.router.add_post("/m", limited)
    server = await aiohttp_server(app)
    status, body = await request_.do_request(str(server.make_url("/m")), "POST", form(chat_id=1))
    assert status == 429
    assert b'"retry_after": 3' in body


async def test_a_slow_answer_is_timed_out(aiohttp_server: AiohttpServer, request_: AiohttpRequest) -> None:
    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/m", slow)
    server = await aiohttp_server(app)
    with pytest.raises(TimedOut):
        await request_.do_request(str(server.make_url("/m")), "POST", form(chat_id=1), read_timeout=0.2)


async def test_a_timeout_ptb_leaves_out_is_the_transports_own(aiohttp_server: AiohttpServer) -> None:
    # PTB passes BaseRequest.DEFAULT_NONE for "not given" (its public marker; the type behind it is private).
    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/m", slow)
    server = await aiohttp_server(app)
    transport = AiohttpRequest(read_timeout=0.2)
    await transport.initialize()
    try:
        with pytest.raises(TimedOut):
            await transport.do_request(str(server.make_url("/m")), "POST", form(chat_id=1))
    finally:
        await transport.shutdown()


async def test_a_dropped_connection_is_a_network_error(
    aiohttp_server: AiohttpServer, request_: AiohttpRequest
) -> None:
    async def drop(request: web.Request) -> web.StreamResponse:
        assert request.transport is not None
        request.transport.close()
        return web.Response()

    app = web.Application()
    app.router.add_post("/m", drop)
    server = await aiohttp_server(app)
    with pytest.raises(NetworkError):
        await request_.do_request(str(server.make_url("/m")), "POST", form(chat_id=1))


async def test_nothing_listening_is_a_network_error(request_: AiohttpRequest) -> None:
    with pytest.raises(NetworkError):
        await request_.do_request("http://127.0.0.1:9/m", "POST", form(chat_id=1), connect_timeout=1.0)


async def test_files_go_as_multipart(aiohttp_server: AiohttpServer, request_: AiohttpRequest) -> None:
    got: dict[str, bytes | bytearray | str] = {}

    async def upload(request: web.Request) -> web.Response:
        for name, value in (await request.post()).items():
            got[name] = value.file.read() if isinstance(value, web.FileField) else value
        return web.json_response({"ok": True, "result": True})

    app = web.Application()
    app.router.add_post("/m", upload)
    server = await aiohttp_server(app)
    data = form(chat_id=7, document=InputFile(b"hello", filename="note.txt"))
    status, _ = await request_.do_request(str(server.make_url("/m")), "POST", data)
    assert status == 200
    assert got == {"chat_id": "7", "document": b"hello"}


async def test_used_before_initialize_is_a_clear_error() -> None:
    with pytest.raises(RuntimeError, match="not initialized"):
        await AiohttpRequest().do_request("http://127.0.0.1:9/m", "POST")
