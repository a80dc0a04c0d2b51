"""The one shape of an error answer on the JSON routes: `{"error": "..."}` with a status."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, TypeVar

from aiohttp import web

Refusal = TypeVar("Refusal", bound=web.HTTPException)


def json_error(status: int, message: str, headers: Mapping[str, str] | None = None) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=headers)


def json_refusal(
    kind: type[Refusal], message: str, *, more: Mapping[str, Any] | None = None, **extra: Any
) -> Refusal:
    """The same answer as an exception, for a refusal raised from inside a guard or a parser, where there is
    no response to return. `more`: fields beside the error (the web chat's `expired`)."""
    body = {"error": message, **(more or {})}
    return kind(text=json.dumps(body), content_type="application/json", **extra)
