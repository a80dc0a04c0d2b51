"""The command line and small pieces the two database references share (`reference_bare`, `_direct`).

It imports no database library, so the direct reference's process never loads SQLAlchemy."""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
from aiohttp import web

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name
REPLY = "Thank you, your message is stored."

AppFactory = Callable[[str, str, str, str], web.Application]


def run_reference(make_app: AppFactory, description: str) -> None:
    """The command line both references share: the same arguments from the bench, one aiohttp server."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--db-url", required=True)
    parser.add_argument("--api-url", required=True, help="the Bot API base URL, e.g. http://127.0.0.1:1/bot")
    parser.add_argument("--token", required=True)
    parser.add_argument("--secret", required=True)
    args = parser.parse_args()
    app = make_app(args.db_url, args.api_url, args.token, args.secret)
    web.run_app(app, host=args.host, port=args.port, print=None, access_log=None)


async def healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok")


async def send_reply(session: aiohttp.ClientSession, send_url: str, chat_id: int) -> bool:
    """The one `sendMessage` each reference sends; True if the Bot API took it."""
    form = {"chat_id": str(chat_id), "text": REPLY}
    try:
        async with session.post(send_url, data=form) as response:
            await response.read()
            return response.status == 200
    except (aiohttp.ClientError, OSError):
        return False


def reference_app(
    lifecycle: Callable[[web.Application], AsyncIterator[None]],
    webhook: Callable[[web.Request], Awaitable[web.Response]],
) -> web.Application:
    app = web.Application()
    app.cleanup_ctx.append(lifecycle)
    app.router.add_post("/webhook", webhook)
    app.router.add_get("/healthz", healthz)
    return app
