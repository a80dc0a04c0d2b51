"""The access log: one line per request with the method, the route, the status and the time taken.

aiohttp's default access log writes the client address, the full path with its query, the Referer (which
can hold the search that led a person to the chat) and the User-Agent for every request: enough to tie a
visit to a person. Here no route logs any of them; the route is its pattern ("/staff/api/conversations/
{id}"), never the path with ids or query.

The providers' webhooks (`/webhooks/...`: Telegram, Twilio) are the hot path, one request per message a
person sends: a line for each of their quick successes would repeat what the metrics already count
(`helpline_messages_in` by channel and outcome, `helpline_handle_seconds`) at a cost paid on every message.
Their errors and slow answers are logged as every other route's requests are."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

LOGGER = "helpline.access"
# aiohttp accepts any token as a method; a made-up one is logged as this.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
WEBHOOKS = "/webhooks/"
SLOW_SECONDS = 1.0  # a webhook answer slower than this is logged even when it succeeded


def route_of(request: web.BaseRequest) -> str:
    """The route's name, else its pattern; "unmatched" for a request no route took (a 404, a 405)."""
    match_info = getattr(request, "match_info", None)
    route = getattr(match_info, "route", None)
    if route is None:
        return "unmatched"
    if route.name:
        return str(route.name)
    resource = route.resource
    return resource.canonical if resource is not None else "unmatched"


class AccessLog(AbstractAccessLogger):
    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        route = route_of(request)
        if route.startswith(WEBHOOKS) and response.status < 300 and time < SLOW_SECONDS:
            return
        method = request.method if request.method in KNOWN_METHODS else "OTHER"
        fields: dict[str, Any] = {
            "method": method,
            "route": route,
            "status": response.status,
            "duration_ms": round(time * 1000, 1),
        }
        self.logger.info("%s %s %s %.1f ms", method, route, response.status, time * 1000, extra=fields)


def access_log_options() -> dict[str, Any]:
    """What `web.run_app` takes to log requests this way."""
    return {"access_log_class": AccessLog, "access_log": logging.getLogger(LOGGER)}
