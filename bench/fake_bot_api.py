"""A minimal, fast fake of the Telegram Bot API that counts the replies (`python -m bench.fake_bot_api`).

Every call is `POST /bot{token}/{method}` with a form-encoded (or JSON) body. `sendMessage` is counted per
chat and answered with a Message carrying an incrementing message_id; getMe answers a bot user; every
other method answers `{"ok": true, "result": true}`. The benchmark reads the counts from `GET /_stats`
(`?chat=ID` adds that chat's count) while the servers under test send.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

BOT_USER = {
    "id": 123456,
    "is_bot": True,
    "first_name": "Bench",
    "username": "bench_helpline_bot",
    "can_join_groups": False,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}
OK_TRUE = json.dumps({"ok": True, "result": True}).encode()
OK_ME = json.dumps({"ok": True, "result": BOT_USER}).encode()
JSON = "application/json"


class FakeBotApi:
    def __init__(self) -> None:
        self.sent = 0
        self.per_chat: Counter[str] = Counter()
        self.calls: Counter[str] = Counter()
        self.next_message_id = 1_000_000

    async def _params(self, request: web.Request) -> dict[str, str]:
        raw = await request.read()
        if not raw:
            return {}
        if request.content_type == JSON:
            data = json.loads(raw)
            return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in data.items()}
        if request.content_type.startswith("multipart/"):
            return {}
        return dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))

    async def api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        self.calls[method] += 1
        lowered = method.lower()
        if lowered == "sendmessage":
            params = await self._params(request)
            chat = params.get("chat_id", "0")
            self.sent += 1
            self.per_chat[chat] += 1
            self.next_message_id += 1
            message: dict[str, Any] = {
                "message_id": self.next_message_id,
                "date": int(time.time()),
                "chat": {"id": int(chat) if chat.lstrip("-").isdigit() else 0, "type": "private"},
                "from": BOT_USER,
                "text": params.get("text", ""),
            }
            return web.Response(body=json.dumps({"ok": True, "result": message}), content_type=JSON)
        await request.read()
        if lowered == "getme":
            return web.Response(body=OK_ME, content_type=JSON)
        return web.Response(body=OK_TRUE, content_type=JSON)

    async def stats(self, request: web.Request) -> web.Response:
        data: dict[str, Any] = {"sent": self.sent, "calls": dict(self.calls)}
        chat = request.query.get("chat")
        if chat is not None:
            data["chat"] = self.per_chat.get(chat, 0)
        return web.json_response(data)


def make_app() -> web.Application:
    fake = FakeBotApi()
    app = web.Application()
    app.router.add_get("/_stats", fake.stats)
    app.router.add_post("/bot{token}/{method}", fake.api)
    app.router.add_post("/{token}/{method}", fake.api)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    web.run_app(make_app(), host=args.host, port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
