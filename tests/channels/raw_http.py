"""HTTP written straight to a test server's socket: bytes no client library sends (undecodable header
values, raw bytes in the target) and bodies cut off before their Content-Length."""

from __future__ import annotations

import asyncio

from aiohttp import web
from aiohttp.test_utils import TestClient


async def raw_exchange(
    client: TestClient[web.Request, web.Application], data: bytes, *, half_close: bool = False
) -> bytes:
    """Write `data` (a whole request, with "Connection: close") and read until the server closes. With
    `half_close` our side is closed after writing: a body shorter than its Content-Length ends for good."""
    server = client.server
    reader, writer = await asyncio.open_connection(server.host, server.port)
    try:
        writer.write(data)
        if half_close:
            writer.write_eof()
        await writer.drain()
        async with asyncio.timeout(30):
            return await reader.read()
    finally:
        writer.close()
        await writer.wait_closed()


def status_of(reply: bytes) -> int | None:
    """The status code of a raw reply; None when the server closed without answering."""
    line = reply.split(b"\r\n", 1)[0]
    return int(line.split()[1]) if line.startswith(b"HTTP/") else None
