"""Which requests the access log writes a line for: every route's, except a provider webhook's quick
successes (the hot path, already counted by the metrics); a webhook's errors and slow answers still are."""

from __future__ import annotations

import asyncio
import logging

import aiohttp
import pytest
from aiohttp import web

from bots import access_log
from bots.access_log import LOGGER, access_log_options


async def _served(paths: list[tuple[str, int, float]]) -> list[tuple[str, str, int]]:
    """Serve these routes (path, status, seconds taken) with the access log, request each once, and
    return the lines written as (method, route, status)."""
    app = web.Application()
    for path, status, seconds in paths:

        async def handler(
            request: web.Request, status: int = status, seconds: float = seconds
        ) -> web.Response:
            await asyncio.sleep(seconds)
            return web.json_response({}, status=status)

        app.router.add_post(path, handler)
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    logger = logging.getLogger(LOGGER)
    keep, level = Keep(), logger.level
    logger.addHandler(keep)
    logger.setLevel(logging.INFO)
    runner = web.AppRunner(app, **access_log_options())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        async with aiohttp.ClientSession() as session:
            for path, _, _ in paths:
                async with session.post(f"http://127.0.0.1:{port}{path}") as response:
                    await response.read()
        await asyncio.sleep(0.05)  # the access log line is written after the response
    finally:
        await runner.cleanup()
        logger.removeHandler(keep)
        logger.setLevel(level)
    return [(r.method, r.route, r.status) for r in records]  # type: ignore[attr-defined]


async def test_a_webhooks_quick_success_writes_no_line_and_everything_else_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(access_log, "SLOW_SECONDS", 0.2)
    lines = await _served(
        [
            ("/webhooks/telegram", 200, 0.0),
            ("/webhooks/twilio/sms", 200, 0.0),
            ("/webhooks/twilio/status", 204, 0.0),
            ("/webhooks/twilio/voice", 500, 0.0),
            ("/webhooks/twilio/voice/step", 403, 0.0),
            ("/webhooks/twilio/whatsapp", 200, 0.3),
            ("/chat/api/send", 202, 0.0),
            ("/staff/api/login", 200, 0.0),
        ]
    )
    assert lines == [
        ("POST", "/webhooks/twilio/voice", 500),
        ("POST", "/webhooks/twilio/voice/step", 403),
        ("POST", "/webhooks/twilio/whatsapp", 200),  # slow
        ("POST", "/chat/api/send", 202),
        ("POST", "/staff/api/login", 200),
    ]
