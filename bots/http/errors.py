"""The one shape of an error answer on the JSON routes: `{"error": "..."}` with a status."""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web


def json_error(status: int, message: str, headers: Mapping[str, str] | None = None) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=headers)
