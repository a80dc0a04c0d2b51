"""The lean edges of issue 19, one at a time: `python -m bench.edges [--n N]` prints the CPU each costs per
message, the old way and the new way, in this process (the process CPU of N calls, divided by N).

- reading a Telegram update: python-telegram-bot's `Update.de_json` and our reader of it, against
  `plain_inbound` on the dict (a text message and a button press);
- sending a reply with a keyboard: PTB's `Bot.send_message` against `BotApi.call` (the same aiohttp
  session, against the bench's fake Bot API in its own process: only the sending side's CPU is counted);
- the opening hours' two questions per message (`is_open`, `next_opening`), computed each time (a new
  `OpeningHours`) against asked of one that answers once a minute;
- the access log's line for a webhook's 200, written (as before: the JSON formatter, to /dev/null) against
  skipped.
The event loop (uvloop against asyncio's) is compared end to end: `HELPLINE_EVENT_LOOP=asyncio` for the
service in a `make bench` run.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from telegram import Bot, Update

from bench.driver import telegram_update
from bench.procs import free_port
from bots.access_log import AccessLog
from bots.channels.telegram.api import BotApi
from bots.channels.telegram.http import AiohttpRequest
from bots.channels.telegram.sender import render
from bots.channels.telegram.updates import check_ids, inbound_from, plain_inbound
from bots.logs import JsonFormatter
from intake.hours import default_hours
from intake.messages import Choice, Reply

TOKEN = "123456789:AAFakeTokenForTheBench_0123456789ab"  # noqa: S105 - the fake's
PRESS: dict[str, Any] = {
    "update_id": 900_000_001,
    "callback_query": {
        "id": "4000000001",
        "from": {"id": 5_000_001, "is_bot": False, "first_name": "Bench", "language_code": "en"},
        "message": {
            "message_id": 7,
            "from": {"id": 123456789, "is_bot": True, "first_name": "Bot", "username": "bench_bot"},
            "chat": {"id": 5_000_001, "type": "private", "first_name": "Bench"},
            "date": 1_795_000_000,
            "text": "Who are you writing for?",
            "reply_markup": {
                "inline_keyboard": [
                    [{"text": "1. Myself", "callback_data": "self"}],
                    [{"text": "2. Someone else", "callback_data": "other"}],
                ]
            },
            "has_protected_content": True,
        },
        "chat_instance": "-7051402231457362398",
        "data": "self",
    },
}


def cpu_us(n: int, work: Callable[[], object]) -> float:
    started = time.process_time()
    for _ in range(n):
        work()
    return (time.process_time() - started) / n * 1e6


async def acpu_us(n: int, work: Callable[[], Awaitable[object]]) -> float:
    started = time.process_time()
    for _ in range(n):
        await work()
    return (time.process_time() - started) / n * 1e6


def parsing(n: int, bot: Bot) -> list[tuple[str, float, float]]:
    rows = []
    for name, update in (
        ("text message", telegram_update(1, 5_000_001, 3, "hello")),
        ("button press", PRESS),
    ):

        def old(update: dict[str, Any] = update) -> object:
            parsed = Update.de_json(update, bot)  # it copies what it changes
            check_ids(parsed)
            return inbound_from(parsed)

        def new(update: dict[str, Any] = update) -> object:
            return plain_inbound(update)

        rows.append((f"read a {name}", cpu_us(n, old), cpu_us(n, new)))
    return rows


async def _listening(port: int) -> None:
    for _ in range(200):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.05)
            continue
        writer.close()
        return
    raise RuntimeError("the fake Bot API did not start")


async def sending(n: int) -> list[tuple[str, float, float]]:
    port = free_port()
    server = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "bench.fake_bot_api", "--port", str(port)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        await _listening(port)
        request = AiohttpRequest()
        bot = Bot(TOKEN, base_url=f"http://127.0.0.1:{port}/bot", request=request)
        await bot.initialize()
        api = BotApi(request, bot.base_url)
        reply = Reply("Who are you writing for?", choices=(Choice("self", "Myself"), Choice("other", "Else")))

        async def old() -> object:
            text, keyboard = render(reply)
            return await bot.send_message(
                chat_id=5_000_001, text=text, reply_markup=keyboard, protect_content=True
            )

        async def new() -> object:
            text, keyboard = render(reply)
            params: dict[str, object] = {"chat_id": 5_000_001, "text": text}
            if keyboard is not None:
                params["reply_markup"] = keyboard.to_dict()
            params["protect_content"] = True
            return await api.call("sendMessage", params)

        await old()
        await new()
        row = ("send a reply with a keyboard", await acpu_us(n, old), await acpu_us(n, new))
        await bot.shutdown()
        return [row]
    finally:
        server.terminate()
        await server.wait()


def hours(n: int) -> list[tuple[str, float, float]]:
    shared = default_hours()
    start = datetime(2026, 6, 13, 10, 0, tzinfo=UTC)  # a Saturday: closed, the next opening on Monday
    tick = iter(range(10**9))

    def at() -> datetime:
        return start + timedelta(milliseconds=next(tick) * 7)  # about 8,600 messages a minute

    def old() -> object:
        fresh = dataclasses.replace(shared)  # no answer kept
        when = at()
        return fresh.is_open(when, "telegram"), fresh.next_opening(when, "telegram")

    def new() -> object:
        when = at()
        return shared.is_open(when, "telegram"), shared.next_opening(when, "telegram")

    return [("opening hours: is_open + next_opening (closed)", cpu_us(n, old), cpu_us(n, new))]


def access_log(n: int) -> list[tuple[str, float, float]]:
    logger = logging.getLogger("bench.edges.access")
    logger.propagate = False
    handler = logging.StreamHandler(open(os.devnull, "w"))  # noqa: SIM115 - kept for the whole run
    handler.setFormatter(JsonFormatter())
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    log = AccessLog(logger, "")

    def request(route: str) -> Any:
        resource = SimpleNamespace(canonical=route)
        return SimpleNamespace(
            method="POST", match_info=SimpleNamespace(route=SimpleNamespace(name=None, resource=resource))
        )

    ok = SimpleNamespace(status=200)
    chat, webhook = request("/chat/api/send"), request("/webhooks/telegram")
    return [
        (
            "access log line for a webhook's 200 (before: written)",
            cpu_us(n, lambda: log.log(chat, ok, 0.004)),  # type: ignore[arg-type]
            cpu_us(n, lambda: log.log(webhook, ok, 0.004)),  # type: ignore[arg-type]
        )
    ]


async def run(n: int) -> list[tuple[str, float, float]]:
    bot = Bot(TOKEN)
    return [*parsing(n, bot), *await sending(max(n // 5, 200)), *hours(n), *access_log(n)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000, help="calls of each (sends: a fifth)")
    args = parser.parse_args()
    rows = asyncio.run(run(args.n))
    print(f"{'CPU per call (µs)':<56} {'before':>8} {'after':>8} {'saved':>8}")
    for name, old, new in rows:
        print(f"{name:<56} {old:8.1f} {new:8.1f} {old - new:8.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
