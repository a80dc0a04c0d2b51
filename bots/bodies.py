"""Request bodies for the JSON routes: read whole within a limit, parsed so that bad JSON fails one way."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from bots.http.errors import json_refusal


def _too_large(limit: int, actual: int) -> web.HTTPRequestEntityTooLarge:
    return json_refusal(
        web.HTTPRequestEntityTooLarge,
        f"the body is larger than {limit} bytes",
        max_size=limit,
        actual_size=actual,
    )


async def read_limited(request: web.Request, limit: int) -> bytes:
    """The whole body; 413 as soon as it is known to be larger than `limit` bytes, from its Content-Length
    or, for a chunked body, while reading."""
    if request.content_length is not None and request.content_length > limit:
        raise _too_large(limit, request.content_length)
    # read(n) returns what has arrived so far (one chunk, one TCP segment): read until the end.
    raw = bytearray()
    while chunk := await request.content.read(limit + 1 - len(raw)):
        raw += chunk
        if len(raw) > limit:
            raise _too_large(limit, len(raw))
    return bytes(raw)


def parse_json(raw: bytes) -> Any:
    """UTF-8 JSON, or ValueError for anything else. json.loads itself also raises RecursionError (nesting
    deeper than the interpreter's recursion limit) and a plain ValueError that is no JSONDecodeError (an
    integer of more than 4300 digits): both are bad input, not a server error."""
    try:
        return json.loads(raw.decode("utf-8"))
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
