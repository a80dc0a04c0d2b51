"""Reading a request body with a size limit, for the JSON APIs of the web chat and the console."""

from __future__ import annotations

import json

from aiohttp import web


def _too_large(limit: int, actual: int) -> web.HTTPRequestEntityTooLarge:
    return web.HTTPRequestEntityTooLarge(
        max_size=limit,
        actual_size=actual,
        text=json.dumps({"error": f"the body is larger than {limit} bytes"}),
        content_type="application/json",
    )


async def read_limited(request: web.Request, limit: int) -> bytes:
    """The whole body, or 413 as soon as more than `limit` bytes are announced or arrive."""
    if request.content_length is not None and request.content_length > limit:
        raise _too_large(limit, request.content_length)
    # read(n) returns what has arrived so far (one chunk of a chunked body): read until the end.
    raw = bytearray()
    while chunk := await request.content.read(limit + 1 - len(raw)):
        raw.extend(chunk)
        if len(raw) > limit:
            raise _too_large(limit, len(raw))
    return bytes(raw)
