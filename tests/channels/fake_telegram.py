"""A local fake of the Telegram Bot API, and the updates Telegram would send to the webhook.

Start it with `await serve(aiohttp_server)` and point HELPLINE_TELEGRAM_API_URL at its `base_url`. Like
Telegram it answers `POST /bot{token}/{method}` with form-encoded parameters (ints, booleans and objects
arrive as JSON strings), `{"ok": true, "result": …}` with realistic Message objects, and errors as
`{"ok": false, "error_code": …, "description": …}` (429 with `parameters.retry_after`). It keeps each
private chat's messages (both directions share one message_id sequence, as on Telegram), so edits and
deletes are checked against what exists, records every call, and can fail the next calls of a method.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from pytest_aiohttp import AiohttpServer

TOKEN = "123456789:AAFakeTokenForTests_0123456789abcdef"
BOT: dict[str, Any] = {
    "id": 123456789,
    "is_bot": True,
    "first_name": "Hjelpelinja",
    "username": "hjelpelinja_test_bot",
    "can_join_groups": False,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are exactly the "
    "same as a current content and reply markup of the message"
)


@dataclass(frozen=True)
class User:
    id: int
    first_name: str = "Test"
    language_code: str | None = "nb"

    def json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.language_code is not None:
            data["language_code"] = self.language_code
        return data

    def chat(self) -> dict[str, Any]:
        return {"id": self.id, "first_name": self.first_name, "type": "private"}


@dataclass(frozen=True)
class Call:
    """One request the fake received (parameters as sent: strings) and the status it answered."""

    method: str
    params: Mapping[str, str]
    status: int

    @property
    def ok(self) -> bool:
        return self.status == 200

    @property
    def chat_id(self) -> int:
        return int(self.params["chat_id"])

    @property
    def message_id(self) -> int:
        return int(self.params["message_id"])

    @property
    def text(self) -> str:
        return self.params.get("text", "")

    def json(self, name: str) -> Any:
        raw = self.params.get(name)
        return None if raw is None else json.loads(raw)

    def flag(self, name: str) -> bool:
        return self.json(name) is True


@dataclass
class Failure:
    status: int
    description: str
    retry_after: int | None = None
    migrate_to: int | None = None


def _error(
    status: int, description: str, retry_after: int | None = None, migrate_to: int | None = None
) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
    if migrate_to is not None:
        body["parameters"] = {"migrate_to_chat_id": migrate_to}
    return web.json_response(body, status=status)


class BotApiError(Exception):
    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description


@dataclass
class FakeTelegram:
    token: str = TOKEN
    base_url: str = ""  # set by the test once the server runs: f"{server}/bot"
    calls: list[Call] = field(default_factory=list)
    # chat id -> message id -> the Message as Telegram would return it now (deleted ones removed)
    chats: dict[int, dict[int, dict[str, Any]]] = field(default_factory=dict)
    # chat id -> the Chat object, for every chat a user has written in
    known: dict[int, dict[str, Any]] = field(default_factory=dict)
    blocked: set[int] = field(default_factory=set)
    webhook: dict[str, Any] | None = None
    commands: dict[str | None, list[dict[str, str]]] = field(default_factory=dict)
    # getUpdates waits at most this long for a new update (Telegram: `timeout`), so tests never hang.
    poll_wait: float = 0.2
    _failures: dict[str, list[Failure]] = field(default_factory=dict)
    _last_id: dict[int, int] = field(default_factory=dict)
    _update_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(700_000_001))
    _query_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(4_000_000_001))
    _queries: set[str] = field(default_factory=set)
    _pending: list[dict[str, Any]] = field(default_factory=list)
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)
    _offset: int = 0
    _polled: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.app = web.Application()
        self.app.router.add_post("/bot{token}/{method}", self._handle)

    # ---- what a test sets up ------------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        status: int,
        description: str = "",
        retry_after: int | None = None,
        times: int = 1,
        migrate_to: int | None = None,
    ) -> None:
        """Answer the next `times` calls of `method` with this error (429: set retry_after; a group that
        became a supergroup: 400 with migrate_to, the new chat id)."""
        if not description:
            description = {
                400: "Bad Request: chat not found",
                403: "Forbidden: bot was blocked by the user",
                429: f"Too Many Requests: retry after {retry_after}",
                502: "Bad Gateway",
            }.get(status, "Internal Server Error")
        failure = Failure(status, description, retry_after, migrate_to)
        self._failures.setdefault(method, []).extend([failure] * times)

    def clear_failures(self) -> None:
        self._failures.clear()

    # ---- updates, shaped exactly as Telegram sends them ----------------------------------------------

    def text(self, user: User, text: str) -> dict[str, Any]:
        """A user's text message in the private chat with the bot; commands carry their entity."""
        message = self._user_message(user, user.chat(), {"text": text})
        if text.startswith("/"):
            message["entities"] = [{"offset": 0, "length": len(text.split()[0]), "type": "bot_command"}]
        return {"update_id": next(self._update_ids), "message": message}

    def photo(self, user: User, caption: str | None = None) -> dict[str, Any]:
        sizes = [
            {
                "file_id": f"AgACAgQAAxkBAAI{w}",
                "file_unique_id": f"AQAD{w}",
                "width": w,
                "height": w,
                "file_size": w * 40,
            }
            for w in (90, 320, 800)
        ]
        content: dict[str, Any] = {"photo": sizes}
        if caption is not None:
            content["caption"] = caption
        return {
            "update_id": next(self._update_ids),
            "message": self._user_message(user, user.chat(), content),
        }

    def voice(self, user: User) -> dict[str, Any]:
        voice = {
            "file_id": "AwACAgQAAxkBAAI",
            "file_unique_id": "AgAD",
            "duration": 4,
            "mime_type": "audio/ogg",
        }
        return {
            "update_id": next(self._update_ids),
            "message": self._user_message(user, user.chat(), {"voice": voice}),
        }

    def group_text(self, user: User, group_id: int, text: str, kind: str = "group") -> dict[str, Any]:
        chat = {"id": group_id, "title": "Klassen 10B", "type": kind}
        if kind == "supergroup":
            chat["is_forum"] = False
        return {
            "update_id": next(self._update_ids),
            "message": self._user_message(user, chat, {"text": text}),
        }

    def edited_text(self, user: User, message_id: int, text: str) -> dict[str, Any]:
        message = dict(self.chats[user.id][message_id], text=text, edit_date=int(time.time()))
        return {"update_id": next(self._update_ids), "edited_message": message}

    def press(self, user: User, message_id: int, data: str) -> dict[str, Any]:
        """The user presses a button of the bot's message `message_id`."""
        query_id = str(next(self._query_ids))
        self._queries.add(query_id)
        return {
            "update_id": next(self._update_ids),
            "callback_query": {
                "id": query_id,
                "from": user.json(),
                "message": self.chats[user.id][message_id],
                "chat_instance": "-7051402231457362398",
                "data": data,
            },
        }

    def queue_update(self, update: dict[str, Any]) -> None:
        """For getUpdates (long polling)."""
        self._pending.append(update)
        self._arrived.set()

    # ---- what a test reads ----------------------------------------------------------------------------

    async def confirmed(self, update_id: int) -> None:
        """Wait until a getUpdates call confirms `update_id` (its offset is past it): the poller is done."""
        while self._offset <= update_id:
            self._polled.clear()
            await self._polled.wait()

    def calls_to(self, method: str, ok: bool | None = None) -> list[Call]:
        return [c for c in self.calls if c.method == method and (ok is None or c.ok == ok)]

    def bot_messages(self, chat_id: int) -> list[dict[str, Any]]:
        """The bot's messages still in the chat, oldest first."""
        return [m for m in self.chats.get(chat_id, {}).values() if m["from"]["id"] == BOT["id"]]

    def message_ids(self, chat_id: int) -> list[int]:
        return sorted(self.chats.get(chat_id, {}))

    # ---- the Bot API ----------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if request.content_type == "application/json":
            body = await request.json()
            params = {k: v if isinstance(v, str) else json.dumps(v) for k, v in body.items()}
        else:
            params = {k: str(v) for k, v in (await request.post()).items()}
        if request.match_info["token"] != self.token:
            self.calls.append(Call(method, params, 401))
            return _error(401, "Unauthorized")
        failures = self._failures.get(method)
        if failures:
            failure = failures.pop(0)
            self.calls.append(Call(method, params, failure.status))
            return _error(failure.status, failure.description, failure.retry_after, failure.migrate_to)
        handler = getattr(self, "_api_" + method, None)
        if handler is None:
            self.calls.append(Call(method, params, 404))
            return _error(404, "Not Found")
        try:
            result = await handler(params)
        except BotApiError as exc:
            self.calls.append(Call(method, params, exc.status))
            return _error(exc.status, exc.description)
        self.calls.append(Call(method, params, 200))
        return web.json_response({"ok": True, "result": result})

    def _next_message_id(self, chat_id: int) -> int:
        self._last_id[chat_id] = self._last_id.get(chat_id, 0) + 1
        return self._last_id[chat_id]

    def _user_message(self, user: User, chat: dict[str, Any], content: dict[str, Any]) -> dict[str, Any]:
        message = {
            "message_id": self._next_message_id(chat["id"]),
            "from": user.json(),
            "chat": chat,
            "date": int(time.time()),
            **content,
        }
        self.chats.setdefault(chat["id"], {})[message["message_id"]] = message
        self.known[chat["id"]] = chat
        return message

    def _message(self, params: Mapping[str, str]) -> dict[str, Any]:
        chat_id, message_id = int(params["chat_id"]), int(params["message_id"])
        message = self.chats.get(chat_id, {}).get(message_id)
        if message is None:
            raise BotApiError(400, "Bad Request: message to edit not found")
        return message

    def _private_chat(self, params: Mapping[str, str]) -> int:
        chat_id = int(params["chat_id"])
        if chat_id not in self.known:
            raise BotApiError(400, "Bad Request: chat not found")
        if chat_id in self.blocked:
            raise BotApiError(403, "Forbidden: bot was blocked by the user")
        return chat_id

    async def _api_getMe(self, params: Mapping[str, str]) -> Any:
        return BOT

    async def _api_sendMessage(self, params: Mapping[str, str]) -> Any:
        chat_id = self._private_chat(params)
        text = params.get("text", "")
        if not text.strip():
            raise BotApiError(400, "Bad Request: message text is empty")
        if len(text) > 4096:
            raise BotApiError(400, "Bad Request: message is too long")
        message: dict[str, Any] = {
            "message_id": self._next_message_id(chat_id),
            "from": {k: BOT[k] for k in ("id", "is_bot", "first_name", "username")},
            "chat": self.known[chat_id],
            "date": int(time.time()),
            "text": text,
        }
        markup = json.loads(params["reply_markup"]) if "reply_markup" in params else None
        if markup is not None:
            for row in markup["inline_keyboard"]:
                for button in row:
                    if not 1 <= len(button.get("callback_data", "").encode("utf-8")) <= 64:
                        raise BotApiError(400, "Bad Request: BUTTON_DATA_INVALID")
            message["reply_markup"] = markup
        if params.get("protect_content") == "true":
            message["has_protected_content"] = True
        self.chats.setdefault(chat_id, {})[message["message_id"]] = message
        return message

    async def _api_editMessageReplyMarkup(self, params: Mapping[str, str]) -> Any:
        message = self._message(params)
        markup = json.loads(params["reply_markup"]) if "reply_markup" in params else None
        if markup == {"inline_keyboard": []}:
            markup = None
        if markup == message.get("reply_markup"):
            raise BotApiError(400, NOT_MODIFIED)
        message.pop("reply_markup", None)
        if markup is not None:
            message["reply_markup"] = markup
        message["edit_date"] = int(time.time())
        return message

    async def _api_editMessageText(self, params: Mapping[str, str]) -> Any:
        message = self._message(params)
        markup = json.loads(params["reply_markup"]) if "reply_markup" in params else None
        if params.get("text") == message.get("text") and markup == message.get("reply_markup"):
            raise BotApiError(400, NOT_MODIFIED)
        message["text"] = params.get("text", "")
        message.pop("reply_markup", None)
        if markup is not None:
            message["reply_markup"] = markup
        message["edit_date"] = int(time.time())
        return message

    async def _api_answerCallbackQuery(self, params: Mapping[str, str]) -> Any:
        if params.get("callback_query_id") not in self._queries:
            raise BotApiError(
                400, "Bad Request: query is too old and response timeout expired or query ID is invalid"
            )
        self._queries.discard(params["callback_query_id"])
        return True

    async def _api_deleteMessage(self, params: Mapping[str, str]) -> Any:
        chat_id, message_id = int(params["chat_id"]), int(params["message_id"])
        message = self.chats.get(chat_id, {}).get(message_id)
        if message is None:
            raise BotApiError(400, "Bad Request: message to delete not found")
        if time.time() - message["date"] > 48 * 3600:
            raise BotApiError(400, "Bad Request: message can't be deleted for everyone")
        del self.chats[chat_id][message_id]
        return True

    async def _api_setWebhook(self, params: Mapping[str, str]) -> Any:
        if not params.get("url", "").startswith("https://"):
            raise BotApiError(400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook")
        self.webhook = dict(params)
        return True

    async def _api_deleteWebhook(self, params: Mapping[str, str]) -> Any:
        self.webhook = None
        return True

    async def _api_setMyCommands(self, params: Mapping[str, str]) -> Any:
        self.commands[params.get("language_code")] = json.loads(params["commands"])
        return True

    async def _api_getUpdates(self, params: Mapping[str, str]) -> Any:
        if self.webhook is not None:
            raise BotApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = int(params.get("offset", "0"))
        self._offset = max(self._offset, offset)
        self._polled.set()
        # Telegram forgets the updates below the offset: they were confirmed.
        self._pending = [u for u in self._pending if u["update_id"] >= offset]
        if not self._pending:
            self._arrived.clear()
            wait = min(float(params.get("timeout", "0")), self.poll_wait)
            try:
                async with asyncio.timeout(wait):
                    await self._arrived.wait()
            except TimeoutError:
                pass
        return list(self._pending)


async def serve(aiohttp_server: AiohttpServer) -> FakeTelegram:
    """A fake on a real local port, its `base_url` set for HELPLINE_TELEGRAM_API_URL."""
    fake = FakeTelegram()
    server = await aiohttp_server(fake.app)
    fake.base_url = str(server.make_url("/bot"))
    return fake
